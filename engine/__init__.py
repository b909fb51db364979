"""The mlplan engine: loads the project, builds the resource graph, plans and applies changes.

It knows nothing of any provider's specifics: providers plug in through
``mlplan.providers.base`` and state is kept through ``mlplan.state``.
"""

__version__ = "0.1.0"
