"""Artifact metadata: records, lookup by id or digest prefix, directory members, GC roots."""

from __future__ import annotations

import hashlib

import pytest

from conveyor import store as st
from conveyor.core import InvalidNameError, NotFoundError

pytestmark = pytest.mark.integration


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_record_and_get_by_id_and_digest(store: st.Store) -> None:
    d = digest("model bytes")
    rec = st.record_artifact(
        store,
        f"sha256:{d}",
        11,
        name="models/model.skops",
        type_name="sklearn.linear_model.LogisticRegression",
        media_type="application/octet-stream",
        meta={"rows": 10},
    )
    assert (rec.digest, rec.size, rec.kind, rec.name) == (d, 11, "file", "models/model.skops")
    assert rec.meta == {"rows": 10} and rec.producer_step_run_id is None
    assert st.get_artifact(store, rec.id) == rec
    assert st.get_artifact(store, str(rec.id)) == rec
    assert st.get_artifact(store, d) == rec
    assert st.get_artifact(store, f"sha256:{d}") == rec
    assert st.get_artifact(store, d[:8]) == rec
    assert st.get_artifact(store, f"sha256:{d[:12]}") == rec


def test_the_newest_record_of_a_digest_wins(store: st.Store) -> None:
    d = digest("same bytes")
    st.record_artifact(store, d, 10, name="a")
    newer = st.record_artifact(store, d, 10, name="b")
    assert st.get_artifact(store, d[:10]).id == newer.id


def test_name_is_normalised(store: st.Store) -> None:
    rec = st.record_artifact(store, digest("x"), 1, name="./reports/./eval.json")
    assert rec.name == "reports/eval.json"


@pytest.mark.parametrize("ref", ["abc", "abcdefg", "ABCDEF12", "zzzzzzzz", "sha256:12"])
def test_bad_digest_references_are_rejected(store: st.Store, ref: str) -> None:
    with pytest.raises(InvalidNameError, match="not a sha256 digest"):
        st.get_artifact(store, ref)


def test_missing_artifacts_are_not_found(store: st.Store) -> None:
    with pytest.raises(NotFoundError, match="conveyor artifacts list"):
        st.get_artifact(store, 12345)
    with pytest.raises(NotFoundError, match="No artifact"):
        st.get_artifact(store, "abcdef0123")


def test_other_projects_artifacts_are_invisible(store: st.Store) -> None:
    rec = st.record_artifact(store, digest("x"), 1)
    with st.open_store(store.url, project="other") as other:
        with pytest.raises(NotFoundError):
            st.get_artifact(other, rec.id)
        with pytest.raises(NotFoundError):
            st.get_artifact(other, rec.digest)
        assert st.list_artifacts(other) == []


@pytest.mark.parametrize("bad", ["", "ab" * 31, "g" * 64, "A" * 64, "sha1:" + "a" * 64])
def test_record_rejects_bad_digests(store: st.Store, bad: str) -> None:
    with pytest.raises(InvalidNameError, match="sha256"):
        st.record_artifact(store, bad, 1)


@pytest.mark.parametrize(
    "name", ["../escape", "/abs/path", "a/../../b", "%2e%2e%2fx", "c:\\x", "a\x00b", "file:x"]
)
def test_record_rejects_names_that_escape(store: st.Store, name: str) -> None:
    with pytest.raises(InvalidNameError):
        st.record_artifact(store, digest("x"), 1, name=name)
    assert st.list_artifacts(store) == []


def test_directory_members(store: st.Store) -> None:
    files = [("b/weights.bin", digest("w"), 5), ("a.json", digest("a"), 2)]
    rec = st.record_artifact(store, digest("manifest"), 7, kind="dir", files=files)
    assert rec.kind == "dir"
    assert st.artifact_files(store, rec.id) == sorted(files)
    assert st.artifact_files(store, rec.id + 1) == []


def test_directory_members_are_checked(store: st.Store) -> None:
    with pytest.raises(InvalidNameError):
        st.record_artifact(store, digest("m"), 1, kind="dir", files=[("../x", digest("x"), 1)])
    with pytest.raises(InvalidNameError):
        st.record_artifact(store, digest("m"), 1, kind="dir", files=[("x", "nothex", 1)])
    assert st.list_artifacts(store) == []


def test_referenced_digests_span_members_and_projects(store: st.Store) -> None:
    st.record_artifact(store, digest("file"), 1)
    st.record_artifact(store, digest("dir"), 1, kind="dir", files=[("m", digest("member"), 1)])
    with st.open_store(store.url, project="other") as other:
        st.record_artifact(other, digest("theirs"), 1)
    assert st.referenced_digests(store) == {
        digest("file"),
        digest("dir"),
        digest("member"),
        digest("theirs"),
    }


def test_list_artifacts_newest_first_by_name(store: st.Store) -> None:
    a = st.record_artifact(store, digest("1"), 1, name="model")
    b = st.record_artifact(store, digest("2"), 1, name="data")
    c = st.record_artifact(store, digest("3"), 1, name="model")
    assert [r.id for r in st.list_artifacts(store)] == [c.id, b.id, a.id]
    assert [r.id for r in st.list_artifacts(store, name="model")] == [c.id, a.id]
    assert [r.id for r in st.list_artifacts(store, limit=1)] == [c.id]


def test_records_are_json_ready(store: st.Store) -> None:
    rec = st.record_artifact(store, digest("x"), 1)
    out = rec.to_dict()
    assert out["created_at"].endswith("+00:00") and out["digest"] == digest("x")
