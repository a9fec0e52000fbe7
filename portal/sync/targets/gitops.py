"""The gitops target: one cluster's Gloo objects as YAML files in ``DIRECTORY/<cluster>/``, for a GitOps tool.

Loom writes, a GitOps controller (Argo CD, Flux) applies: commit the directory to the repository that controller
watches. A pass (``apply``):

1. **Checks everything before the first write**: a model with problems or of another cluster is
   ``InvalidDesiredState``; every object goes through the strict CRD validator and the rules across the set
   (:func:`portal.sync.crd_validation.validate_set`), and a refusal is ``ConfigRejected``; a file of a desired name
   that Loom did not write is refused too. Any of these, and no file changes.
2. **Writes one file per object**, ``NN-<kind>-<namespace>-<name>.yaml`` where ``NN`` is the kind's dependency
   order, so ``kubectl apply -f DIRECTORY/<cluster>/`` (which takes files in name order) creates Upstreams before
   the RouteTables and VirtualServices that name them. The format is fixed (a header comment, keys sorted, block
   style, no anchors), so equal objects are equal bytes. A file is written only when its object changed; the
   ``loom.dev/generation`` label says the generation an object was last *written* at (as in the kubernetes
   target), so a pass whose objects did not change writes nothing even when the generation moved, and a
   one-product change touches only that product's files. Files are replaced atomically: every new content goes
   to a temporary file in the same directory first (flushed to disk), then each is renamed over its file.
3. **Removes stale files**: ``*.yaml`` files in that directory whose object carries our labels
   (``app.kubernetes.io/managed-by: loom`` and ``loom.dev/cluster: <cluster>``) and is no longer desired. Any other
   file (no labels, another cluster's, not YAML) is never touched.

An ``OSError`` (a missing permission, a full disk) is ``ClusterUnreachable``: the next pass tries again.

**Status.** A directory cannot tell whether the GitOps controller applied the files, nor what Gloo thought of
them: ``observe`` says ``Pending`` for every product, with the generation its files were written at when they hold
the desired objects (the reason says so, and where to look: the objects' ``status.statuses`` in the cluster). It
never says ``Accepted``, which would claim what Loom did not see. ``reachable`` is whether the directory can be
read.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from portal.sync.crd_validation import fingerprint, validate_set
from portal.sync.desired import ClusterSpec
from portal.sync.errors import ClusterUnreachable, ConfigRejected, InvalidDesiredState
from portal.sync.gloo import (
    CLUSTER_LABEL,
    GENERATION_LABEL,
    KIND_ORDER,
    MANAGED_BY_LABEL,
    PRODUCT_LABEL,
    render as gloo_render,
)
from portal.sync.model import ClusterRouting
from portal.sync.targets._base import ApplyReport, Observation, ProductVerdict

__all__ = ["GitOpsTarget", "file_name"]

Renderer = Callable[[ClusterRouting], Sequence[Mapping[str, Any]]]
_SUFFIX = ".yaml"


def file_name(obj: Mapping[str, Any]) -> str:
    """The file of one object: its kind's dependency order, kind, namespace and name."""
    meta = obj["metadata"]
    order = KIND_ORDER.index(obj["kind"]) if obj["kind"] in KIND_ORDER else len(KIND_ORDER)
    return f"{order + 1:02d}-{str(obj['kind']).lower()}-{meta['namespace']}-{meta['name']}{_SUFFIX}"


@dataclass(frozen=True, slots=True)
class _Plan:
    writes: dict[str, bytes]  # file name -> content
    created: int
    deletes: list[str]
    keys: dict[str, str]  # file name -> its object's fingerprint (without the generation)


class GitOpsTarget:
    """The Gloo objects of ``cluster`` as files under ``directory/<cluster.name>/``. ``render`` replaces the Gloo
    renderer (tests)."""

    kind = "gitops"

    def __init__(self, cluster: ClusterSpec, directory: Path, *, render: Renderer = gloo_render) -> None:
        self.cluster = cluster
        self.directory = Path(directory) / cluster.name
        self._render = render
        self._owned = {MANAGED_BY_LABEL: "loom", CLUSTER_LABEL: cluster.name}
        self.last_report = ApplyReport()
        # What this target knows without reading: objects that passed the schema checks, and files it wrote or read
        # (name -> (mtime_ns, size, object fingerprint without the generation)). A file edited by anyone else has
        # another mtime or size and is read again, so drift is still found.
        self._valid: set[str] = set()
        self._files: dict[str, tuple[int, int, str]] = {}
        # The last model rendered, its objects by file name and their fingerprints: observe() after apply() and a
        # pass with an unchanged model do not render again.
        self._rendered: tuple[ClusterRouting, dict[str, dict[str, Any]], dict[str, str]] | None = None

    # -- Target ------------------------------------------------------------------------------------------------

    async def apply(self, model: ClusterRouting) -> ApplyReport:
        objects = self._desired(model)  # every check that needs no disk, before the first write
        self.last_report = await asyncio.to_thread(self._apply, model.generation, objects)
        return self.last_report

    async def observe(self, model: ClusterRouting | None) -> Observation:
        return await asyncio.to_thread(self._observe, model)

    async def aclose(self) -> None:
        return None

    # -- the pass ----------------------------------------------------------------------------------------------

    def _desired(self, model: ClusterRouting) -> dict[str, dict[str, Any]]:
        if self._rendered is not None and (self._rendered[0] is model or self._rendered[0] == model):
            return self._rendered[1]
        name = self.cluster.name
        if model.cluster.name != name:
            raise InvalidDesiredState(
                f"the gitops target of cluster {name!r} was given cluster {model.cluster.name!r}'s routing model"
            )
        if model.problems:
            listed = "; ".join(str(p) for p in model.problems)
            raise InvalidDesiredState(f"cluster {name!r} keeps its last good config: {listed}")
        objects = []
        for rendered in self._render(model):
            obj = dict(rendered)  # the renderer's own fresh dicts: labelled in place
            meta = obj.setdefault("metadata", {})
            meta.setdefault("namespace", self.cluster.namespace)
            meta.setdefault("labels", {}).update({**self._owned, GENERATION_LABEL: str(model.generation)})
            objects.append(obj)
        keys = [_key(obj) for obj in objects]
        try:
            validate_set(objects, valid=self._valid, fingerprints=keys)
        except ConfigRejected as exc:
            raise ConfigRejected(
                f"cluster {name!r}: {exc.message} (no file was written: every object is checked first)",
                object=exc.object,
            ) from exc
        by_name = {file_name(obj): obj for obj in objects}
        self._rendered = (model, by_name, {file_name(obj): key for obj, key in zip(objects, keys, strict=True)})
        return by_name

    def _apply(self, generation: int, objects: Mapping[str, dict[str, Any]]) -> ApplyReport:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            plan = self._plan(generation, objects)
            self._write(plan)
        except OSError as exc:
            raise ClusterUnreachable(
                f"cluster {self.cluster.name!r}: the gitops directory {self.directory} could not be written "
                f"({exc.strerror or exc}); the next pass tries again"
            ) from exc
        return ApplyReport(created=plan.created, updated=len(plan.writes) - plan.created, deleted=len(plan.deletes))

    def _plan(self, generation: int, objects: Mapping[str, dict[str, Any]]) -> _Plan:
        names = self._names()
        writes: dict[str, bytes] = {}
        created = 0
        for name, obj in sorted(objects.items()):
            if name in names:
                written = self._holding(name, obj)
                if written is None:
                    raise ConfigRejected(
                        f"cluster {self.cluster.name!r}: {self.directory / name} exists and was not written by Loom "
                        f"for this cluster (its object lacks the labels {_selector(self._owned)}); Loom never "
                        "overwrites a file it did not write: move or delete it",
                        object=str(self.directory / name),
                    )
                if written:
                    continue  # the same object: the file keeps the generation it was written at
            else:
                created += 1
            writes[name] = _dump(obj, self.cluster.name)
        deletes = sorted(name for name in names - set(objects) if self._read(name) is not None)
        keys = self._rendered[2] if self._rendered is not None and self._rendered[1] is objects else {}
        return _Plan(writes, created, deletes, {name: keys.get(name) or _key(objects[name]) for name in writes})

    def _names(self) -> set[str]:
        if not self.directory.is_dir():
            return set()
        return {p.name for p in self.directory.glob(f"*{_SUFFIX}") if p.is_file()}

    def _holding(self, name: str, obj: Mapping[str, Any]) -> bool | None:
        """Whether the file ``name`` holds ``obj`` (whatever generation it was written at); None when it is not a
        file Loom wrote for this cluster."""
        path = self.directory / name
        stat = path.stat()
        rendered = self._rendered
        key = rendered[2][name] if rendered is not None and rendered[1].get(name) is obj else _key(obj)
        if self._files.get(name) == (stat.st_mtime_ns, stat.st_size, key):
            return True
        read = self._read(name)
        if read is None:
            return None
        data, written = read
        kept = _with_generation(obj, _labels(written).get(GENERATION_LABEL, "0"))
        same = _dump(kept, self.cluster.name) == data
        if same:
            self._files[name] = (stat.st_mtime_ns, stat.st_size, key)
        return same

    def _read(self, name: str) -> tuple[bytes, dict[str, Any]] | None:
        """A file's content and object when it holds an object Loom wrote for this cluster, else None."""
        data = (self.directory / name).read_bytes()
        try:
            obj = yaml.load(data, Loader=_SafeLoader)  # noqa: S506 - a safe loader, C or Python
        except yaml.YAMLError:
            return None  # not ours to judge: never touched
        if isinstance(obj, dict) and all(_labels(obj).get(k) == v for k, v in self._owned.items()):
            return data, obj
        return None

    def _write(self, plan: _Plan) -> None:
        staged: list[tuple[Path, Path]] = []
        try:
            for name, data in plan.writes.items():
                handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
                staged.append((Path(temp_name), self.directory / name))
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
            for temp, final in staged:
                os.replace(temp, final)
                stat = final.stat()
                self._files[final.name] = (stat.st_mtime_ns, stat.st_size, plan.keys[final.name])
        finally:
            for temp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        for name in plan.deletes:
            self._files.pop(name, None)
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
        if plan.writes or plan.deletes:
            _sync_directory(self.directory)

    # -- status ------------------------------------------------------------------------------------------------

    def _observe(self, model: ClusterRouting | None) -> Observation:
        try:
            names = self._names()
            if model is None:  # what is there, by product (no model to compare with)
                present = [read[1] for read in map(self._read, sorted(names)) if read is not None]
                products = sorted({_labels(o).get(PRODUCT_LABEL, "") for o in present} - {""})
                return Observation(
                    reachable=True,
                    verdicts=tuple(
                        ProductVerdict(product, "Pending", "no routing model to compare the files with", 0)
                        for product in products
                    ),
                )
            try:
                desired = self._desired(model)
            except (InvalidDesiredState, ConfigRejected):
                desired = {}
            # Each file is checked once, then judged per product (shared objects count for every product).
            holds = {name: name in names and bool(self._holding(name, obj)) for name, obj in desired.items()}
        except OSError as exc:
            return Observation(reachable=False, error=f"the gitops directory {self.directory}: {exc.strerror or exc}")
        shared = [n for n, o in desired.items() if PRODUCT_LABEL not in _labels(o)]
        by_product: dict[str, list[str]] = {}
        for name, obj in desired.items():
            product = _labels(obj).get(PRODUCT_LABEL)
            if product is not None:
                by_product.setdefault(product, []).append(name)
        shared_missing = sorted(n for n in shared if not holds[n])
        verdicts = []
        for product in [r.product for r in model.routes]:
            mine = by_product.get(product, [])
            missing = shared_missing + sorted(n for n in mine if not holds[n])
            if (mine or shared) and not missing:
                reason = (
                    f"written to {self.directory} at generation {model.generation}; Loom cannot see whether your "
                    "GitOps tool applied it or what Gloo said: read the objects' status.statuses in the cluster"
                )
                verdicts.append(ProductVerdict(product, "Pending", reason, model.generation))
                continue
            reason = f"not written yet: {', '.join(missing[:5])}" if missing else "no file in the directory"
            verdicts.append(ProductVerdict(product, "Pending", reason, 0))
        return Observation(reachable=True, verdicts=tuple(verdicts))


# libyaml's C emitter and parser where PyYAML has them (its wheels do): a pass reads and writes every file of a
# cluster, and the pure-Python ones made a 1,000-product no-op pass take minutes.
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """Block style, and no anchors: each file reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(obj: Mapping[str, Any], cluster: str) -> bytes:
    header = (
        f"# Written by Loom's sync worker for cluster {cluster}; edits are replaced on its next pass.\n"
        "# Change the portal's desired state instead.\n"
    )
    body = yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120)
    return (header + body).encode("utf-8")


def _key(obj: Mapping[str, Any]) -> str:
    return fingerprint(obj, ignore_labels=(GENERATION_LABEL,))


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _generation(obj: Mapping[str, Any]) -> int:
    value = _labels(obj).get(GENERATION_LABEL, "")
    return int(value) if value.isdigit() else 0


def _with_generation(obj: Mapping[str, Any], generation: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out["metadata"]["labels"][GENERATION_LABEL] = generation
    return out


def _without_generation(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(GENERATION_LABEL, None)
    return out


def _selector(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def _sync_directory(directory: Path) -> None:
    """Make the renames durable (where the platform can open a directory)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
