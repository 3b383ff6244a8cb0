import sys
from pathlib import Path

# The DICOM factory (tests/dicom_factory.py) is imported by several test modules.
sys.path.insert(0, str(Path(__file__).parent))
