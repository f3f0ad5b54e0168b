#pragma once
// `collect --out-max-size SIZE` (issue 21): data.txt is rotated as logrotate does — data.txt.1 is
// the newest rotated part, data.txt.2 the one before, … — and at most `--out-keep N` rotated parts
// are kept. These are the file steps; when to rotate and what a sink still needs is the
// collector's (collector.cpp, "rotation").
//
// A rotation is a chain of rename()s, newest last (data.txt.k -> data.txt.k+1 for the highest k
// first, then data.txt -> data.txt.1): a crash between two of them leaves every line in exactly
// one file, under a name the next start finds (a gap in the numbers at worst). An open descriptor
// follows its file across a rename, so a sink that still reads a rotated part keeps reading it.
//
// Thread contract: pure functions of the file system; the caller serialises rotations.
#include <string>
#include <vector>

namespace concur::iot {

// "data.txt.3" for ("data.txt", 3).
std::string rotated_path(const std::string& path, unsigned index);

// The indexes k of the rotated parts `path.k` that exist, ascending (directory order does not
// matter; names like data.txt.1.bak or data.txt.01 are not parts).
std::vector<unsigned> rotated_indexes(const std::string& path);

// Shifts every rotated part one up and renames `path` to `path.1`. Returns 0, or the errno of the
// rename that failed (the parts renamed before it stay renamed: every line is still in one file).
int rotate_files(const std::string& path);

}  // namespace concur::iot
