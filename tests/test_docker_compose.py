"""Static checks of docker-compose.yml and config/odoo.conf.

The development machines and CI have no Docker engine, so these checks read the files instead of
starting the stack: they catch a renamed service, a lost port, or an add-ons folder that Odoo in
the container would not find.
"""

import configparser
import pathlib

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
MODULES = ("montanes_lead_scoring", "montanes_campaigns", "montanes_license_inventory")


@pytest.fixture(scope="module")
def compose():
    with open(REPO / "docker-compose.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def odoo_conf():
    parser = configparser.ConfigParser()
    parser.read(REPO / "config" / "odoo.conf", encoding="utf-8")
    return parser["options"]


def _volume_targets(service):
    """Map each mount target of a service to its source."""
    targets = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        targets[target] = source
    return targets


def test_compose_services_and_images(compose):
    services = compose["services"]
    assert set(services) == {"db", "odoo", "mailpit"}
    assert services["db"]["image"] == "postgres:16"
    assert services["odoo"]["image"] == "odoo:19.0"
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_compose_published_ports(compose):
    services = compose["services"]
    assert services["odoo"]["ports"] == ["8069:8069"]
    assert services["mailpit"]["ports"] == ["8025:8025"]
    assert "ports" not in services["db"], "PostgreSQL must not be published on the host"


def test_compose_database_credentials_match(compose):
    db_env = compose["services"]["db"]["environment"]
    odoo_env = compose["services"]["odoo"]["environment"]
    assert odoo_env["HOST"] == "db"
    assert odoo_env["USER"] == db_env["POSTGRES_USER"]
    assert odoo_env["PASSWORD"] == db_env["POSTGRES_PASSWORD"]
    assert compose["services"]["odoo"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_volumes_mount_addons_and_config(compose):
    odoo_volumes = _volume_targets(compose["services"]["odoo"])
    assert odoo_volumes["/mnt/extra-addons"] == "./addons"
    assert odoo_volumes["/etc/odoo/odoo.conf"] == "./config/odoo.conf"
    assert odoo_volumes["/var/lib/odoo"] == "odoo-web-data"
    db_volumes = _volume_targets(compose["services"]["db"])
    assert db_volumes["/var/lib/postgresql/data"] == "odoo-db-data"
    assert set(compose["volumes"]) == {"odoo-db-data", "odoo-web-data"}
    for module in MODULES:
        assert (REPO / "addons" / module / "__manifest__.py").is_file()


def test_compose_installs_modules_with_demo(compose):
    command = compose["services"]["odoo"]["command"]
    init = next(arg for arg in command if arg.startswith("--init="))
    installed = set(init.removeprefix("--init=").split(","))
    assert installed == {"l10n_es", *MODULES}
    assert "--with-demo" in command
    assert "--database=montanes" in command


def test_odoo_conf_points_at_mounted_addons_and_mailpit(compose, odoo_conf):
    assert odoo_conf["addons_path"] == "/mnt/extra-addons"
    assert odoo_conf["smtp_server"] == "mailpit"
    assert odoo_conf["smtp_port"] == "1025"
    assert odoo_conf["db_host"] == "db"
    assert odoo_conf["data_dir"] == "/var/lib/odoo"
