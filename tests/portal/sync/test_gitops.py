"""The gitops target: one YAML file per Gloo object under ``DIR/<cluster>/``, written only when it changed,
atomically, stale files of ours removed and every other file left alone; nothing written when anything is
invalid."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal.sync.crd_validation import validate_set
from portal.sync.desired import DesiredState, ProductSpec
from portal.sync.errors import ClusterUnreachable, ConfigRejected, InvalidDesiredState
from portal.sync.gloo import CLUSTER_LABEL, GENERATION_LABEL, MANAGED_BY_LABEL, render
from portal.sync.model import ClusterRouting, route
from portal.sync.targets import ApplyReport, Target
from portal.sync.targets.gitops import GitOpsTarget, file_name
from tests.portal.sync._fleet import FLEET, SERVICES

LIBRARY = ProductSpec("library", ("members", "catalog"), ("us-east", "us-west", "eu-central"))
PINNED = ProductSpec("library-eu", ("members", "catalog"), ("us-east", "eu-central"), residency="eu")
SHOP = ProductSpec("shop", ("members",), ("us-east",))
CLUSTERS = {name: dataclasses.replace(c, target="gitops") for name, c in FLEET.items()}
EAST = CLUSTERS["us-east"]


def model(*products: ProductSpec, generation: int = 7, cluster: str = "us-east") -> ClusterRouting:
    return route(DesiredState(CLUSTERS, SERVICES, {p.name: p for p in products}, generation=generation))[cluster]


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file with its bytes, inode and modification time: a rewrite of equal bytes shows too."""
    return {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


@pytest.fixture
def target(tmp_path: Path) -> GitOpsTarget:
    return GitOpsTarget(EAST, tmp_path / "gitops")


async def test_one_file_per_object_in_dependency_order(target: GitOpsTarget, tmp_path: Path) -> None:
    routing = model(LIBRARY, PINNED)
    report = await target.apply(routing)
    folder = tmp_path / "gitops" / "us-east"
    names = sorted(p.name for p in folder.iterdir())
    assert report == ApplyReport(created=10)
    assert names == [
        "01-upstream-gloo-system-loom-entry-library-eu.yaml",
        "01-upstream-gloo-system-loom-entry-library.yaml",
        "01-upstream-gloo-system-loom-local-gateway.yaml",
        "01-upstream-gloo-system-loom-local-members.yaml",
        "01-upstream-gloo-system-loom-svc-catalog.yaml",
        "01-upstream-gloo-system-loom-svc-members.yaml",
        "03-routetable-gloo-system-loom-product-library-eu.yaml",
        "03-routetable-gloo-system-loom-product-library.yaml",
        "04-virtualservice-gloo-system-loom-internal.yaml",
        "04-virtualservice-gloo-system-loom-products.yaml",
    ]  # `kubectl apply -f` takes files in name order: Upstreams before what names them
    written = [yaml.safe_load((folder / name).read_text()) for name in names]
    assert written == sorted(render(routing), key=file_name)
    validate_set(written)
    first = (folder / names[0]).read_text()
    assert first.startswith("# Written by Loom's sync worker for cluster us-east")
    assert "&id" not in "".join((folder / n).read_text() for n in names)  # no YAML anchors


async def test_the_bytes_are_deterministic(tmp_path: Path) -> None:
    one, two = GitOpsTarget(EAST, tmp_path / "one"), GitOpsTarget(EAST, tmp_path / "two")
    await one.apply(model(LIBRARY, PINNED))
    reordered = DesiredState(
        dict(reversed(list(CLUSTERS.items()))), SERVICES, {p.name: p for p in (PINNED, LIBRARY)}, generation=7
    )
    await two.apply(route(reordered)["us-east"])
    files_one = {n: data for n, (data, _, _) in snapshot(tmp_path / "one" / "us-east").items()}
    files_two = {n: data for n, (data, _, _) in snapshot(tmp_path / "two" / "us-east").items()}
    assert files_one == files_two


async def test_a_second_run_writes_nothing_even_at_a_new_generation(target: GitOpsTarget) -> None:
    await target.apply(model(LIBRARY, PINNED))
    before = snapshot(target.directory)
    assert await target.apply(model(LIBRARY, PINNED)) == ApplyReport()
    assert await target.apply(model(LIBRARY, PINNED, generation=8)) == ApplyReport()
    assert snapshot(target.directory) == before  # not one file replaced


async def test_a_one_product_change_writes_only_what_changed(target: GitOpsTarget) -> None:
    await target.apply(model(LIBRARY, PINNED))
    before = snapshot(target.directory)
    report = await target.apply(model(LIBRARY, PINNED, SHOP, generation=8))
    assert report == ApplyReport(created=2, updated=1)  # its entry upstream and table; the products' service
    after = snapshot(target.directory)
    changed = {n for n in after if before.get(n) != after[n]}
    assert changed == {
        "01-upstream-gloo-system-loom-entry-shop.yaml",
        "03-routetable-gloo-system-loom-product-shop.yaml",
        "04-virtualservice-gloo-system-loom-products.yaml",
    }
    shop = yaml.safe_load((target.directory / "03-routetable-gloo-system-loom-product-shop.yaml").read_text())
    library = yaml.safe_load((target.directory / "03-routetable-gloo-system-loom-product-library.yaml").read_text())
    assert shop["metadata"]["labels"][GENERATION_LABEL] == "8"
    assert library["metadata"]["labels"][GENERATION_LABEL] == "7"  # the generation it was last written at


async def test_stale_files_are_removed_and_foreign_files_never_touched(target: GitOpsTarget) -> None:
    await target.apply(model(LIBRARY, PINNED))
    folder = target.directory
    foreign = {
        "README.md": b"# our cluster\n",
        "99-upstream-someone-else.yaml": yaml.safe_dump(
            {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "theirs"}}
        ).encode(),
        "01-upstream-gloo-system-loom-other-cluster.yaml": yaml.safe_dump(
            {"kind": "Upstream", "metadata": {"labels": {MANAGED_BY_LABEL: "loom", CLUSTER_LABEL: "us-west"}}}
        ).encode(),
        "broken.yaml": b"key: [unclosed\n",
    }
    for name, data in foreign.items():
        (folder / name).write_bytes(data)
    report = await target.apply(model(LIBRARY, generation=8))
    assert report == ApplyReport(updated=1, deleted=2)  # the products' virtual service; library-eu's two
    names = {p.name for p in folder.iterdir()}
    assert "03-routetable-gloo-system-loom-product-library-eu.yaml" not in names
    assert "01-upstream-gloo-system-loom-entry-library-eu.yaml" not in names
    assert "01-upstream-gloo-system-loom-entry-library.yaml" in names
    for name, data in foreign.items():
        assert (folder / name).read_bytes() == data


async def test_drift_an_edited_or_deleted_file_is_restored(target: GitOpsTarget) -> None:
    await target.apply(model(LIBRARY))
    before = snapshot(target.directory)
    edited = target.directory / "01-upstream-gloo-system-loom-svc-members.yaml"
    edited.write_text(edited.read_text().replace("port: 7301", "port: 7399"))
    (target.directory / "03-routetable-gloo-system-loom-product-library.yaml").unlink()
    assert await target.apply(model(LIBRARY)) == ApplyReport(created=1, updated=1)
    assert {n: d for n, (d, _, _) in snapshot(target.directory).items()} == {n: d for n, (d, _, _) in before.items()}


async def test_an_invalid_object_writes_nothing(tmp_path: Path) -> None:
    good = GitOpsTarget(EAST, tmp_path / "gitops")
    await good.apply(model(LIBRARY))
    before = snapshot(good.directory)

    def broken(routing: ClusterRouting) -> list[dict[str, Any]]:
        out = render(routing)
        out[-1]["spec"]["virtualHost"]["rutes"] = []
        return out

    bad = GitOpsTarget(EAST, tmp_path / "gitops", render=broken)
    with pytest.raises(ConfigRejected) as refused:
        await bad.apply(model(LIBRARY, PINNED, generation=8))  # new objects, changed ones and one invalid
    assert "spec.virtualHost.rutes: unknown field" in refused.value.message
    assert "no file was written" in refused.value.message
    assert refused.value.object == "VirtualService/gloo-system/loom-products"
    assert snapshot(good.directory) == before


async def test_a_file_loom_did_not_write_at_a_desired_name_is_refused_before_any_write(target: GitOpsTarget) -> None:
    target.directory.mkdir(parents=True)
    theirs = target.directory / "04-virtualservice-gloo-system-loom-products.yaml"
    theirs.write_text("kind: VirtualService\n")
    with pytest.raises(ConfigRejected, match="was not written by Loom"):
        await target.apply(model(LIBRARY))
    assert [p.name for p in target.directory.iterdir()] == [theirs.name]


async def test_a_model_with_problems_or_of_another_cluster_writes_nothing(target: GitOpsTarget) -> None:
    nowhere = ProductSpec("nowhere", ("members",), ("us-east",), residency="mars")
    with pytest.raises(InvalidDesiredState, match="keeps its last good config"):
        await target.apply(model(nowhere))
    with pytest.raises(InvalidDesiredState, match="was given cluster 'us-west'"):
        await target.apply(model(LIBRARY, cluster="us-west"))
    assert not target.directory.exists()


async def test_a_directory_that_cannot_be_written_is_temporary(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    target = GitOpsTarget(EAST, tmp_path / "not-a-directory")
    with pytest.raises(ClusterUnreachable, match="could not be written"):
        await target.apply(model(LIBRARY))


async def test_observe_says_pending_with_the_generation_written(target: GitOpsTarget) -> None:
    routing = model(LIBRARY, PINNED)
    before = await target.observe(routing)
    assert before.reachable
    assert [(v.product, v.state, v.generation) for v in before.verdicts] == [
        ("library", "Pending", 0),
        ("library-eu", "Pending", 0),
    ]
    assert before.verdicts[0].reason.startswith("not written yet")
    await target.apply(routing)
    after = await target.observe(routing)
    assert [(v.product, v.state, v.generation) for v in after.verdicts] == [
        ("library", "Pending", 7),
        ("library-eu", "Pending", 7),
    ]
    assert "Loom cannot see whether your GitOps tool applied it" in after.verdicts[0].reason
    without_model = await target.observe(None)
    assert [v.product for v in without_model.verdicts] == ["library", "library-eu"]


async def test_it_is_a_target(target: GitOpsTarget) -> None:
    implementation: Target = target  # mypy checks the protocol
    assert implementation.kind == "gitops"
    await implementation.aclose()
