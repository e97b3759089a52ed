from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .equivariance import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .seeding import *  # noqa: F401,F403
