"""Files the console reads and writes: atomic writes, bounded reads of operator files, XDG places, run folders."""
