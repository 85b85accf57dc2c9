"""Docker mode: compose rendering, driving a project, the engine it runs on."""
