"""python -m gluon_sr.serve [--host 127.0.0.1] [--port 8000]: the web app on this machine."""
import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.utils.errors import ArgumentParser, run_cli


def main(argv=None):
    p = ArgumentParser(description="Upscale and stylise images from a browser (and an HTTP API)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this "
                   "machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-upload-mb", type=int, default=20)
    p.add_argument("--max-pixels", type=int, default=25_000_000, help="largest input image")
    p.add_argument("--queue", type=int, default=4, help="images that may wait for the worker")
    p.add_argument("--backend", default="auto", choices=("auto", "mxnet", "openvino"))
    args = p.parse_args(argv)
    from gluon_sr.serve.app import create_app

    app = create_app(args.max_upload_mb, args.max_pixels, args.queue, args.backend)
    print(f"gluon-sr at http://{args.host}:{args.port}/  (Ctrl-C to stop)", flush=True)
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


run_cli(main)
