from .sam_seeding import SAMSeeding

__all__ = ['SAMSeeding']
