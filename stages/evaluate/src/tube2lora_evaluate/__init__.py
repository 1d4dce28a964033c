"""tube2lora evaluate stage: does it sound like the creator, and did it get better?"""

__version__ = "0.1.0"
