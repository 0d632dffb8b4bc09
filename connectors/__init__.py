"""Platform connectors: one module per platform, registered in ``connectors.registry``."""
