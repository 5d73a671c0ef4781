"""utils/walk.py: the files under a data root, entering linked folders once, and the input stamp
(runner/fingerprint.scan_tree) seeing the same files; the folder memo giving the same listing after
any change, and a run keeping it in `<out>/.cache/folders.pickle`."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import run_all
import utils.walk as walk
from runner.fingerprint import scan_tree
from runner.pipeline import Pipeline
from runner.report import Options, RunReport
from utils.errors import UserError
from utils.walk import OUTPUT_MARKER, FolderMemo, files_under, stat_files


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rels(root: Path) -> list[str]:
    return [rel for _, rel in files_under(os.fspath(root))]


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A data root with one plain run, and a run on 'other storage' outside it."""
    root, storage = tmp_path / "root", tmp_path / "storage"
    touch(root / "a" / "evals" / "r.json")
    touch(storage / "b" / "evals" / "r.json")
    touch(storage / "b" / "evals" / "deep" / "s.json")
    return root, storage


def test_a_linked_folder_is_entered_under_the_links_name(tree):
    root, storage = tree
    (root / "b").symlink_to(storage / "b", target_is_directory=True)
    assert rels(root) == ["a/evals/r.json", "b/evals/deep/s.json", "b/evals/r.json"]
    paths = [p for p, _ in files_under(os.fspath(root))]
    assert paths[1] == os.path.join(root, "b", "evals", "deep", "s.json")  # the link's path, not resolved


@pytest.mark.parametrize("link, target, via", [
    ("b/evals/loop", "storage/b", "b"),      # a link back up inside the linked folder
    ("b/evals/root", "root", "b"),           # a link to the data root itself
    ("deep_again", "storage/b/evals/deep", "b"),  # a folder already walked inside a linked one
    ("a_again", "root/a", "b"),              # a folder of the root's own tree: walked there
    ("again", "storage/b", "again"),         # a second link to one folder: the first by name is walked
])
def test_each_real_folder_is_walked_once_and_loops_end(tree, tmp_path, link, target, via):
    root, storage = tree
    (root / "b").symlink_to(storage / "b", target_is_directory=True)
    (root / link).symlink_to(tmp_path / target, target_is_directory=True)
    assert rels(root) == ["a/evals/r.json", f"{via}/evals/deep/s.json", f"{via}/evals/r.json"]


def test_hidden_and_temporary_files_are_left_out_and_files_are_sorted(tmp_path):
    root = tmp_path / "root"
    for rel in ("z.json", "a.json", ".hidden.json", "x.json.tmp", ".cache/y.json", "m/n.json"):
        touch(root / rel)
    assert rels(root) == ["a.json", "m/n.json", "z.json"]


def test_the_input_stamp_sees_the_files_in_linked_folders(tree):
    root, storage = tree
    (root / "b").symlink_to(storage / "b", target_is_directory=True)
    before = scan_tree(root)
    assert set(before) == {p for p, _ in files_under(os.fspath(root))}
    changed = touch(storage / "b" / "evals" / "r.json", "a longer text")
    after = scan_tree(root)
    assert after[os.path.join(root, "b", "evals", "r.json")] != before[os.path.join(root, "b", "evals", "r.json")]
    assert changed.stat().st_size == after[os.path.join(root, "b", "evals", "r.json")][0]


# --- the folder memo -------------------------------------------------------------------------------

@pytest.fixture
def later(monkeypatch):
    """The walk's clock 10 s ahead: the folders just written are settled (not racy), as in a tree
    written long before the run."""
    monkeypatch.setattr(walk, "time", SimpleNamespace(time=lambda: time.time() + 10))


@pytest.fixture
def scandirs(monkeypatch) -> list[str]:
    """The folders listed (os.scandir) from here on."""
    listed: list[str] = []
    scandir = os.scandir

    def counting(path="."):
        listed.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    return listed


def tick(tmp_path: Path) -> None:
    """Wait until a change made now gets a later time than the changes before (file times are coarse
    on some file systems)."""
    probe = touch(tmp_path / "tick")
    before = probe.stat().st_mtime_ns
    while probe.stat().st_mtime_ns == before:
        time.sleep(0.002)
        os.utime(probe)


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A data root with plain runs, a linked run, a link to a file, and a second run on 'storage'."""
    root, storage = tmp_path / "root", tmp_path / "storage"
    for rel in ("a/evals/t1/eval_data/r.json", "a/evals/t2/eval_data/r.json", "b/evals/t1/eval_data/r.json"):
        touch(root / rel)
    touch(storage / "c" / "evals" / "t1" / "eval_data" / "r.json")
    touch(storage / "d" / "evals" / "x.json")
    touch(storage / "file.json")
    (root / "c").symlink_to(storage / "c", target_is_directory=True)
    (root / "f.json").symlink_to(storage / "file.json")
    return root, storage


def rows(root: Path, memo: FolderMemo | None = None) -> list[tuple]:
    return stat_files(os.fspath(root), memo)


def _replace_link(link: Path, target: Path) -> None:
    link.unlink()
    link.symlink_to(target, target_is_directory=True)


def _swap_storage(root: Path, storage: Path) -> None:
    """Another folder under the linked one's real path: same path, same link, other inode."""
    (storage / "c").rename(storage / "c_old")
    (storage / "d").rename(storage / "c")


def _file_becomes_folder(root: Path, storage: Path) -> None:
    (storage / "file.json").unlink()
    touch(storage / "file.json" / "r.json")


def _replace_by_rename(path: Path) -> None:
    """What careful writers do: the new text to a temporary file beside, then renamed over the old."""
    os.replace(touch(path.with_name(path.name + ".tmp"), "a new text"), path)


def _older_output_folder(root: Path, storage: Path) -> None:
    touch(root / "b" / "index.html")
    touch(root / "b" / ".cache" / "manifest.json")


T1 = "a/evals/t1/eval_data/"
CHANGES = {  # name: (change, files added, files gone, whether a folder changed: the memo is saved)
    "nothing": (lambda root, storage: None, set(), set(), False),
    "file added deep": (lambda root, storage: touch(root / T1 / "s.json"), {T1 + "s.json"}, set(), True),
    "file removed": (lambda root, storage: (root / "b/evals/t1/eval_data/r.json").unlink(),
                     set(), {"b/evals/t1/eval_data/r.json"}, True),
    "folder added": (lambda root, storage: touch(root / "a/evals/t3/eval_data/r.json"),
                     {"a/evals/t3/eval_data/r.json"}, set(), True),
    "folder removed": (lambda root, storage: shutil.rmtree(root / "a/evals/t2"),
                       set(), {"a/evals/t2/eval_data/r.json"}, True),
    "file renamed": (lambda root, storage: (root / T1 / "r.json").rename(root / T1 / "q.json"),
                     {T1 + "q.json"}, {T1 + "r.json"}, True),
    "file rewritten in place": (lambda root, storage: (root / T1 / "r.json").write_text("longer"),
                                set(), set(), False),
    "file replaced by a rename": (lambda root, storage: _replace_by_rename(root / T1 / "r.json"), set(), set(), True),
    "hidden and temporary files": (lambda root, storage: (touch(root / T1 / ".r.json"),
                                                          touch(root / T1 / "s.json.tmp")), set(), set(), True),
    "lm-eval folder": (lambda root, storage: touch(root / "a/evals/..__model/r.json"),
                       {"a/evals/..__model/r.json"}, set(), True),
    "output marker": (lambda root, storage: touch(root / "b" / OUTPUT_MARKER),
                      set(), {"b/evals/t1/eval_data/r.json"}, True),
    "older output folder": (_older_output_folder, set(), {"b/evals/t1/eval_data/r.json"}, True),
    "link added": (lambda root, storage: (root / "e").symlink_to(storage / "d", target_is_directory=True),
                   {"e/evals/x.json"}, set(), True),
    "link retargeted": (lambda root, storage: _replace_link(root / "c", storage / "d"),
                        {"c/evals/x.json"}, {"c/evals/t1/eval_data/r.json"}, True),
    "file added in the linked folder": (lambda root, storage: touch(storage / "c/evals/t1/eval_data/s.json"),
                                        {"c/evals/t1/eval_data/s.json"}, set(), True),
    "linked folder replaced": (_swap_storage, {"c/evals/x.json"}, {"c/evals/t1/eval_data/r.json"}, True),
    "linked file becomes a folder": (_file_becomes_folder, {"f.json/r.json"}, {"f.json"}, True),
}


@pytest.mark.parametrize("threads", [1, 2], ids=["stats in one thread", "stats in two"])
@pytest.mark.parametrize("case", CHANGES)
def test_a_walk_with_a_memo_lists_what_a_walk_without_lists(linked, tmp_path, later, case, threads, monkeypatch):
    monkeypatch.setattr(walk, "_STATS_PER_THREAD", 1 if threads > 1 else 10**9)
    root, storage = linked
    change, added, gone, folder_changed = CHANGES[case]
    memo = FolderMemo()
    before = rows(root, memo)
    assert before == rows(root) and memo.dirty and memo.holds(os.fspath(root))
    memo.dirty = False  # as saved
    tick(tmp_path)
    change(root, storage)
    after = rows(root, memo)
    assert after == rows(root)
    assert {r[1] for r in after} == {r[1] for r in before} - gone | added
    assert memo.dirty == folder_changed
    assert rows(root, memo) == after  # and once more, from the memo just made


def test_a_file_rewritten_in_place_is_stat_ed_afresh(linked, tmp_path, later, scandirs):
    root, _ = linked
    memo = FolderMemo()
    rows(root, memo)
    tick(tmp_path)
    (root / T1 / "r.json").write_text("a longer text")
    del scandirs[:]
    after = dict((rel, (size, mtime)) for _, rel, size, mtime in rows(root, memo))
    st = (root / T1 / "r.json").stat()
    assert after[T1 + "r.json"] == (13, st.st_mtime_ns) and scandirs == []


def test_the_files_of_a_walk_the_memo_holds_are_stat_ed_with_its_folders_in_one_pass(linked, tmp_path, later,
                                                                                     monkeypatch):
    """One `stat_all` of every folder and file (halved between two processes), not one of the folders
    and then one of the files; a folder that gained a file is walked as before."""
    root, _ = linked
    memo = FolderMemo()
    before = rows(root, memo)
    calls = []
    real = walk.stat_all
    monkeypatch.setattr(walk, "stat_all", lambda paths: calls.append(len(paths)) or real(paths))
    assert rows(root, memo) == before and calls == [len(memo.paths) + len(before)]
    tick(tmp_path)
    touch(root / T1 / "s.json")
    calls.clear()
    folders = len(memo.paths)
    after = rows(root, memo)
    assert after == rows(root) and len(after) == len(before) + 1
    assert calls[:2] == [folders + len(before), len(after)]  # the pass, then the walk's stats of its files


def test_only_the_folders_changed_since_are_listed_again(linked, tmp_path, later, scandirs):
    root, storage = linked
    memo = FolderMemo()
    rows(root, memo)
    assert len(scandirs) == len(memo.paths) == 15  # every folder once (the link's folders by its path)
    del scandirs[:]
    rows(root, memo)
    assert scandirs == []  # nothing changed: the last walk's files, stat'ed
    tick(tmp_path)
    touch(root / T1 / "s.json")
    touch(storage / "c/evals/t1/eval_data/s.json")
    rows(root, memo)
    assert scandirs == [os.fspath(root / T1.rstrip("/")), os.fspath(root / "c/evals/t1/eval_data")]


def test_a_folder_whose_file_was_replaced_by_a_rename_is_listed_alone(linked, tmp_path, later, scandirs):
    root, _ = linked
    memo = FolderMemo()
    rows(root, memo)
    tick(tmp_path)
    _replace_by_rename(root / T1 / "r.json")
    del scandirs[:]
    assert memo.holds(os.fspath(root)) and memo.dirty  # its new times kept
    assert scandirs == [os.fspath(root / T1.rstrip("/"))]
    del scandirs[:]
    assert memo.holds(os.fspath(root)) and scandirs == []  # and they vouch for it next time
    assert rows(root, memo) == rows(root)
    touch(root / T1 / "s.json")  # a name more: not what it listed
    assert not memo.holds(os.fspath(root))


def test_a_folder_relisted_alike_but_changed_too_recently_is_listed_again(linked, tmp_path, scandirs, monkeypatch):
    root, _ = linked
    monkeypatch.setattr(walk, "time", SimpleNamespace(time=lambda: time.time() + 10))
    memo = FolderMemo()
    rows(root, memo)
    monkeypatch.setattr(walk, "time", time)  # the walk's clock now: the rename below is too recent
    _replace_by_rename(root / T1 / "r.json")
    assert memo.holds(os.fspath(root))
    del scandirs[:]
    assert memo.holds(os.fspath(root)) and scandirs == [os.fspath(root / T1.rstrip("/"))]


def test_a_folder_changed_too_recently_is_listed_again_next_time(linked, scandirs, monkeypatch):
    root, _ = linked
    memo = FolderMemo()
    rows(root, memo)  # all just written: none vouched for by its times
    assert memo.paths == [] and memo.rels is None
    del scandirs[:]
    rows(root, memo)
    assert len(scandirs) == 15
    monkeypatch.setattr(walk, "time", SimpleNamespace(time=lambda: time.time() + 10))
    recent = time.time() + 9  # 1 s before the walk's clock
    os.utime(root / "a" / "evals", (recent, recent))
    rows(root, memo)
    assert os.fspath(root / "a" / "evals") not in memo.paths and len(memo.paths) == 14
    plain = rows(root)
    del scandirs[:]
    assert rows(root, memo) == plain
    assert scandirs == [os.fspath(root / "a" / "evals")]


def test_a_folder_whose_mtime_is_set_back_is_still_listed_again(linked, tmp_path, later):
    """rsync -a, tar, cp -a set a folder's mtime; its ctime still moves."""
    root, _ = linked
    memo = FolderMemo()
    rows(root, memo)
    folder = root / T1
    st = folder.stat()
    tick(tmp_path)
    touch(folder / "s.json")
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert folder.stat().st_mtime_ns == st.st_mtime_ns
    assert T1 + "s.json" in {r[1] for r in rows(root, memo)}


def test_an_older_output_folder_is_listed_on_every_walk(linked, tmp_path, later):
    """It is ours by a file below it: removing that file does not change the folder's times."""
    root, storage = linked
    _older_output_folder(root, storage)
    memo = FolderMemo()
    assert "b/evals/t1/eval_data/r.json" not in {r[1] for r in rows(root, memo)}
    assert not memo.holds(os.fspath(root))
    tick(tmp_path)
    (root / "b" / ".cache" / "manifest.json").unlink()
    assert "b/evals/t1/eval_data/r.json" in {r[1] for r in rows(root, memo)}


def test_a_saved_memo_loads_and_holds(linked, tmp_path, later):
    root, _ = linked
    memo = FolderMemo()
    listing = rows(root, memo)
    memo.save(tmp_path / "folders.pickle")
    assert not memo.dirty
    loaded = FolderMemo.load(tmp_path / "folders.pickle")
    fields = ("top", "root", "paths", "mtimes", "ctimes", "inodes", "names", "kinds", "links", "rels")
    assert [getattr(loaded, f) for f in fields] == [getattr(memo, f) for f in fields]
    assert loaded.holds(os.fspath(root)) and rows(root, loaded) == listing and not loaded.dirty
    assert not FolderMemo.load(tmp_path / "folders.pickle").holds(os.fspath(tmp_path))  # another root


@pytest.mark.parametrize("garbage", ["bytes", "hostile", "other version", "short columns", "not a tuple"])
def test_a_corrupt_memo_is_an_empty_one(linked, tmp_path, later, garbage):
    root, _ = linked
    path, marker = tmp_path / "folders.pickle", tmp_path / "pwned"
    memo = FolderMemo()
    rows(root, memo)
    memo.save(path)
    saved = pickle.loads(path.read_bytes())
    path.write_bytes({
        "bytes": b"\x80\x05garbage" + os.urandom(200),
        "hostile": pickle.dumps(_Touch(marker)),
        "other version": pickle.dumps(("folders-0", *saved[1:])),
        "short columns": pickle.dumps((*saved[:3], saved[3].rpartition("\0")[0], *saved[4:])),
        "not a tuple": pickle.dumps({"paths": []}),
    }[garbage])
    loaded = FolderMemo.load(path)
    assert loaded.paths == [] and loaded.rels is None and not marker.exists()
    assert rows(root, loaded) == rows(root) and loaded.dirty and len(loaded.paths) == 15


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


# --- the memo in a run ---------------------------------------------------------------------------

MISSING = "pt1_ft1-1/evals/angle/eval_data/evaluation_results.json"


@pytest.fixture
def short_of_one(small_tree: Path, tmp_path: Path) -> tuple[Path, str]:
    """The small tree without one evaluation file (its folder kept), and that file's text."""
    path = small_tree / MISSING
    text = path.read_text()
    path.unlink()
    return small_tree, text


def run_pipeline(config, data: Path, out: Path, **opts) -> RunReport:
    pipeline = Pipeline(config, Options(data=data, out=out, only=("scores_csv",), jobs=1, progress=False, **opts))
    try:
        return pipeline.run()
    finally:
        pipeline.close()


def test_a_new_evaluation_file_in_an_existing_experiment_is_noticed(short_of_one, tmp_path, later):
    data, text = short_of_one
    out = tmp_path / "out"
    assert run_all.main(["--data", str(data), "--out", str(out), "--only", "scores_csv", "--jobs", "1", "-q"]) == 0
    memo = FolderMemo.load(out / ".cache" / "folders.pickle")
    assert os.fspath(data / MISSING.rpartition("/")[0]) in memo.paths and memo.holds(os.fspath(data))
    tick(tmp_path)
    (data / MISSING).write_text(text)
    assert run_all.main(["--data", str(data), "--out", str(out), "--only", "scores_csv", "--jobs", "1", "-q"]) == 0
    manifest = out / ".cache" / "manifest.json"
    last = json.loads(manifest.read_text())["last_run"]
    assert last["changed"] == [MISSING] and last["files"] == 70
    assert FolderMemo.load(out / ".cache" / "folders.pickle").holds(os.fspath(data))
    (out / ".cache" / "folders.pickle").unlink()
    written = manifest.stat().st_mtime_ns
    assert run_all.main(["--data", str(data), "--out", str(out), "--only", "scores_csv", "--jobs", "1", "-q"]) == 0
    assert manifest.stat().st_mtime_ns == written  # a no-op: the manifest is not rewritten
    assert FolderMemo.load(out / ".cache" / "folders.pickle").holds(os.fspath(data))  # but the memo is


@pytest.mark.parametrize("garbage", ["bytes", "hostile"])
def test_a_run_with_a_corrupt_memo_lists_every_folder_and_rewrites_it(short_of_one, tmp_path, config, later,
                                                                      garbage):
    data, text = short_of_one
    out, marker = tmp_path / "out", tmp_path / "pwned"
    assert run_pipeline(config, data, out).files == 69
    memo_file = out / ".cache" / "folders.pickle"
    memo_file.write_bytes(os.urandom(300) if garbage == "bytes" else pickle.dumps(_Touch(marker)))
    tick(tmp_path)
    (data / MISSING).write_text(text)
    report = run_pipeline(config, data, out)
    assert (report.fast, report.files, report.parsed, report.changed) == (False, 70, 1, [MISSING])
    assert not marker.exists() and FolderMemo.load(memo_file).holds(os.fspath(data))
    assert run_pipeline(config, data, out).fast


def test_force_lists_every_folder_afresh_and_keeps_the_memo(small_tree, tmp_path, config, later, scandirs):
    out = tmp_path / "out"
    run_pipeline(config, small_tree, out)
    folders = len(FolderMemo.load(out / ".cache" / "folders.pickle").paths)
    assert folders == 1 + 5 * (2 + 14 * 2)  # the root; per experiment itself, evals, per task two
    data_folders = lambda: [p for p in scandirs if Path(p).is_relative_to(small_tree)]  # noqa: E731
    del scandirs[:]
    assert run_pipeline(config, small_tree, out).fast and data_folders() == []
    report = run_pipeline(config, small_tree, out, force=True)
    assert not report.fast and len(data_folders()) == folders
    assert FolderMemo.load(out / ".cache" / "folders.pickle").holds(os.fspath(small_tree))


def test_a_no_op_run_saves_the_memo_when_it_changed(small_tree, tmp_path, config, later):
    out = tmp_path / "out"
    run_pipeline(config, small_tree, out)
    memo_file = out / ".cache" / "folders.pickle"
    memo_file.unlink()
    pipeline = Pipeline(config, Options(data=small_tree, out=out, only=("scores_csv",), jobs=1, progress=False))
    try:
        assert pipeline.run().fast
        assert FolderMemo.load(memo_file).holds(os.fspath(small_tree))  # saved by the run, not at close
    finally:
        pipeline.close()


def test_no_memo_is_written_where_the_run_writes_nothing(tmp_path, config, later):
    data = tmp_path / "data"
    touch(data / "notes" / "readme.txt")
    out = tmp_path / "out"
    with pytest.raises(UserError):
        run_pipeline(config, data, out)
    assert not out.exists()


@pytest.mark.parametrize("with_memo", [False, True])
def test_files_under_the_current_folder_have_no_dot_in_front(linked, monkeypatch, later, with_memo):
    root, _ = linked
    monkeypatch.chdir(root)
    memo = FolderMemo() if with_memo else None
    for _ in range(2):  # a memo records, then holds
        listed = [path for path, *_ in stat_files(".", memo)]
        assert listed == [str(Path(rel)) for _, rel, *_ in rows(root)]
        assert listed[0] == "a/evals/t1/eval_data/r.json"
    assert not with_memo or memo.holds(".")


@pytest.mark.parametrize("per_thread, forked", [(1, False), (3, False), (10**9, False), (10**9, True)],
                         ids=["threads of one path", "threads of three", "one thread", "half in a forked child"])
def test_stats_in_threads_are_each_paths_in_order(tmp_path, monkeypatch, per_thread, forked):
    monkeypatch.setattr(walk, "_STATS_PER_THREAD", per_thread)
    monkeypatch.setattr(walk, "_STATS_TO_FORK", 2 if forked else 10**9)
    monkeypatch.setattr(walk, "_can_fork", lambda: forked)
    paths = [os.fspath(touch(tmp_path / f"f{i}.json", "x" * i)) for i in range(9)]
    paths.insert(4, os.fspath(tmp_path / "gone.json"))
    expected = [None if not os.path.exists(p) else
                (os.stat(p).st_size, os.stat(p).st_mtime_ns, os.stat(p).st_ctime_ns, os.stat(p).st_ino) for p in paths]
    got = walk.stat_all(paths)
    assert got == expected and got[4] is None and [g[0] for g in got if g] == list(range(9))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
@pytest.mark.parametrize("child", ["fails", "sends garbage"])
def test_a_forked_child_that_fails_has_its_half_stat_ed_here(tmp_path, monkeypatch, child):
    """The child stats half the paths; one that dies or sends what does not unpack is not trusted:
    the parent stats that half itself, and the stats are the same."""
    paths = [os.fspath(touch(tmp_path / f"f{i}.json", "x" * i)) for i in range(6)] + [os.fspath(tmp_path / "gone")]
    expected = walk._stats(paths)
    monkeypatch.setattr(walk, "_STATS_TO_FORK", 2)
    monkeypatch.setattr(walk, "_can_fork", lambda: True)
    if child == "fails":
        def broken(stats):
            raise RuntimeError("the child broke")
        monkeypatch.setattr(walk, "_packed", broken)
    else:
        monkeypatch.setattr(walk, "_packed", lambda stats: b"\x01\x02garbage")
    assert walk.stat_all(paths) == expected and expected[-1] is None


@pytest.mark.parametrize("stats", [[(1, 2, 3, 4), None, (5, -6, 7, 2**64 - 1)], [None, None], [(0, 0, 0, 0)], []])
def test_packed_stats_unpack_to_themselves(stats):
    """What a forked child sends through the pipe: signed sizes and times (a file before 1970),
    unsigned inodes (some file systems use the top bit), missing paths kept in place."""
    assert walk._unpacked(walk._packed(stats), len(stats)) == stats
    assert walk._unpacked(walk._packed(stats)[:-1], len(stats)) is None or not stats
