from .checkpoint import (MissingFileError, allow_mmengine_checkpoints, check_checkpoint,
                         check_config_checkpoints, check_file, load_trained_checkpoint,
                         resume_checkpoint)
from .dist import init_distributed, prepare_distributed
from .io import (atomic_write, check_writable_dir, dump_json_atomic, label_file, load_json,
                 load_label_png, read_json_or_none, remove_stale_temp_files, save_label_png,
                 write_text_atomic)
from .op_count import SYNC_OPS, OpCounter
from .streams import SideStream

__all__ = ['MissingFileError', 'allow_mmengine_checkpoints', 'check_checkpoint',
           'check_config_checkpoints', 'check_file', 'load_trained_checkpoint',
           'resume_checkpoint', 'check_writable_dir', 'init_distributed', 'prepare_distributed',
           'dump_json_atomic', 'label_file', 'load_label_png', 'remove_stale_temp_files',
           'save_label_png', 'atomic_write', 'write_text_atomic', 'load_json',
           'read_json_or_none', 'OpCounter', 'SYNC_OPS', 'SideStream']
