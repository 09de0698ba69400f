"""The seed libraries' APIs as thin front-ends over the engine."""
