"""`is_under` is the one folder-containment rule shared by the watcher, the library and the GUI."""

from rag.base.paths import is_under


def test_is_under_compares_whole_path_parts():
    assert is_under("/a/b", "/a/b") and is_under("/a/b/c.txt", "/a/b")
    assert is_under("/a/b/c.txt", "/a/b/")  # a trailing slash on the folder changes nothing
    assert not is_under("/a/bc/d.txt", "/a/b") and not is_under("/a/b-old", "/a/b")
    assert not is_under("/a", "/a/b")
    assert is_under("/anything", "/")
