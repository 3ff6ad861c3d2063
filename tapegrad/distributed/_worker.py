"""One rank started by ``tapegrad.distributed.run``: set torchrun's variables, run the script as ``__main__``, and
end the whole job if the script fails, so that the other ranks do not wait for this one."""

import os
import runpy
import sys
import traceback


def main(argv):
    from tapegrad.distributed import _torchrun_environment
    from tapegrad.distributed._mpi import end_job

    _torchrun_environment()
    module = argv[:1] == ["-m"]
    if module:
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: python -m tapegrad.distributed._worker [-m] script.py [args]\n")
        return 2
    target = argv[0]
    sys.argv = list(argv)
    rank = os.environ.get("RANK", "?")
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            target = os.path.abspath(target)
            sys.path[0] = os.path.dirname(target)
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return 0
        if not isinstance(code, int):
            sys.stderr.write(f"{code}\n")
            code = 1
        sys.stderr.write(f"[rank {rank}] exited with status {code}: ending the job\n")
        end_job(code)
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != os.path.abspath(target) and not module:
            tb = tb.tb_next  # show the script's frames, not the launcher's
        traceback.print_exception(type(e), e, tb or e.__traceback__)
        sys.stderr.write(f"[rank {rank}] {type(e).__name__}: ending the job so that the other ranks do not wait "
                         "for this one\n")
        end_job(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
