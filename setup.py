"""mmwsss: image-level weakly-supervised semantic segmentation on the OpenMMLab stack."""
from setuptools import find_packages, setup

setup(
    name='mmwsss',
    version='0.1.0',
    description='Weakly-supervised semantic segmentation toolkit for MMSegmentation',
    packages=find_packages(include=['mmwsss', 'mmwsss.*']),
    python_requires='>=3.9',
    # mmcv 2.1.0 with ops has no wheel on PyPI: tools/setup_env.sh builds and caches it.
    install_requires=[
        'mmengine==0.10.7', 'mmsegmentation==1.2.2', 'mmcv>=2.0.0,<2.2.0', 'numpy', 'opencv-python-headless',
        'matplotlib', 'prettytable', 'tqdm', 'scipy'
    ],
    extras_require={
        'grounding': ['mmdet==3.3.0', 'transformers>=4.40,<5'],
        'sam': ['segment-anything==1.0'],
        'clip': ['open-clip-torch==3.3.0', 'ftfy', 'regex'],
        'tests': ['pytest', 'pytest-timeout'],
    },
)
