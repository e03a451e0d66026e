// Evaluate IAM requests with @cloud-copilot/iam-simulate, an IAM policy evaluator independent of AWS and moto.
//
// stdin:  a JSON array of cases
//           {id, principal, action, resource, accountId, context: {key: value}, policies: [{name, document}]}
// stdout: a JSON array, one entry per case, in order
//           {id, decision, deniedBy: ["policy:Sid"], allowedBy: ["policy:Sid"], error}
//         decision is "Allowed", "ExplicitlyDenied" or "ImplicitlyDenied"; a request the simulator
//         refuses to evaluate (unknown action, resource of the wrong type) has decision null and an error,
//         so a typo in a test case fails loudly instead of reading as "denied".
//
// pytest runs this once per session with every case (tests/policy_sim/test_policy_semantics.py).
import { runSimulation } from '@cloud-copilot/iam-simulate'

function statementIds(statements) {
  return (statements || []).map((s) => `${s.policyId}:${s.statement.sid() || '(no Sid)'}`)
}

async function evaluate(item) {
  const simulation = {
    request: {
      principal: item.principal,
      action: item.action,
      resource: { resource: item.resource, accountId: item.accountId },
      contextVariables: item.context || {},
    },
    identityPolicies: item.policies.map((p) => ({ name: p.name, policy: p.document })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { id: item.id, decision: null, deniedBy: [], allowedBy: [], error: response.errors }
  }
  if (response.resultType !== 'single') {
    return { id: item.id, decision: null, deniedBy: [], allowedBy: [], error: `unexpected ${response.resultType}` }
  }
  const identity = response.result.analysis?.identityAnalysis || {}
  return {
    id: item.id,
    decision: response.overallResult,
    deniedBy: statementIds(identity.denyStatements),
    allowedBy: statementIds(identity.allowStatements),
    error: null,
  }
}

async function main() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const results = []
  for (const item of cases) results.push(await evaluate(item))
  process.stdout.write(JSON.stringify(results))
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
