"""Print (and save as results.md) the demo's results table."""
import argparse
import os.path as osp

from mmwsss.apis.cli import run_main
from mmwsss.apis.report import demo_table
from mmwsss.utils import write_text_atomic


def main():
    parser = argparse.ArgumentParser(description='mmwsss: demo results table')
    parser.add_argument('work_dir')
    args = parser.parse_args()
    table = demo_table(args.work_dir)
    print(table)
    write_text_atomic(table + '\n', osp.join(args.work_dir, 'results.md'))


if __name__ == '__main__':
    run_main(main, 'nothing was written')
