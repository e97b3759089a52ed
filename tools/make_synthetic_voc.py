"""Generate the built-in synthetic WSSS dataset (VOC layout); a no-op if already there."""
import argparse

from mmwsss.apis.cli import run_main
from mmwsss.datasets import make_synthetic_voc


def main():
    parser = argparse.ArgumentParser(description='mmwsss: make the synthetic VOC-layout set')
    parser.add_argument('--out', default='data/synthetic_voc')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--size', type=int, default=96)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = make_synthetic_voc(args.out, args.num_train, args.num_val, args.size, args.seed)
    print(f'synthetic set at {args.out}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))


if __name__ == '__main__':
    run_main(main, 'the set is incomplete (no meta.json); run the same command again')
