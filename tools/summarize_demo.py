"""Print (and save as results.md) the demo's results table."""
import argparse
import os.path as osp

from mmwsss.apis.report import demo_table


def main():
    parser = argparse.ArgumentParser(description='mmwsss: demo results table')
    parser.add_argument('work_dir')
    args = parser.parse_args()
    table = demo_table(args.work_dir)
    print(table)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
