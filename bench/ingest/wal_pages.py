"""Which tables and indexes fill a SQLite WAL: reads the frames of the WAL's current generation,
splits them into commits, and names the b-tree each frame's page belongs to.

usage: wal_pages.py SNAPSHOT_DIR [TOP]
SNAPSHOT_DIR holds `m.db` and `m.db-wal` copied together from a running server (stop it with
SIGSTOP, copy both, SIGCONT). The copies are opened through a third copy, so SQLite's recovery
of the WAL never touches them, and pages are named by SQLite's `dbstat` table as of the WAL's
end (a page rarely moves between b-trees within one generation).
"""
import collections, os, shutil, sqlite3, struct, sys, tempfile

snapshot = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
database, wal = os.path.join(snapshot, "m.db"), os.path.join(snapshot, "m.db-wal")

with tempfile.TemporaryDirectory() as scratch:
    shutil.copy(database, os.path.join(scratch, "m.db"))
    shutil.copy(wal, os.path.join(scratch, "m.db-wal"))
    conn = sqlite3.connect(os.path.join(scratch, "m.db"))
    owner = dict((page, name) for name, page in conn.execute("SELECT name, pageno FROM dbstat"))
    conn.close()

commits, current = [], []
with open(wal, "rb") as f:
    magic, version, page_size, checkpoint_seq, salt1, salt2, _, _ = struct.unpack(">8I", f.read(32))
    while True:
        header = f.read(24)
        if len(header) < 24:
            break
        page, size_after_commit, frame_salt1, frame_salt2, _, _ = struct.unpack(">6I", header)
        # Frames of an earlier generation lie past the current one, with the old salts.
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break
        f.seek(page_size, os.SEEK_CUR)
        current.append(page)
        if size_after_commit:
            commits.append(current)
            current = []

frames = sum(map(len, commits))
print(f"{len(commits)} commits, {frames} frames ({frames / max(len(commits), 1):.0f} per commit, page size {page_size})")
by_tree = collections.Counter(owner.get(page, "(not in the database's b-trees)") for commit in commits for page in commit)
for name, count in by_tree.most_common(top):
    print(f"{name:50} {count:8} {count / frames * 100:5.1f} %  {count / len(commits):6.1f} per commit")
