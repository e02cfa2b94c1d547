"""Models: the contract every model honours (``contract``) and the registry that names them
(``registry``). Model packages (``deiii``, ``baselines``, third-party entry points) register
themselves with their config class, recipe and presets; nothing else names a model."""
