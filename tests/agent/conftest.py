import pytest

from tests.hypervisor.embed import process_driver


@pytest.fixture(scope="session")
def drv():
    return process_driver()
