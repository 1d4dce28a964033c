"""tube2lora filter stage: quality, language and near-duplicate gates, boilerplate removal."""

__version__ = "0.1.0"
