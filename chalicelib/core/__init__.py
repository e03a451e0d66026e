"""Pure core: the decision, its vocabulary and its parsers. No AWS, no environment, no clock, no network."""
