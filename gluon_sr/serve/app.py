"""The web app and its HTTP API (Flask): upscale and stylise from a browser or with curl.

    GET  /                 the page (static/index.html: no build step, no CDN)
    GET  /healthz          {"ok": true}
    GET  /api/models       the models in params/, from their sidecars
    POST /api/upscale      multipart: image=@file, options={"model": "sr_x4", "denoise": "auto"}
    POST /api/stylize      multipart: image=@file, options={"style": "mosaic", "strength": 1,
                                                           "preserve_color": false, "size": 0}

Results are PNG (alpha kept). Bad requests get a 4xx answer with {"error": "..."}; a full
queue 503 with Retry-After. Uploads go to a temporary folder under names the server makes,
removed after each request; nothing else is written.
"""
import json
import os
import tempfile

from flask import Flask, jsonify, request, send_file

from gluon_sr.model_store import image_models
from gluon_sr.serve.jobs import JobRunner, QueueFull
from gluon_sr.utils.errors import GluonSRError, ImageTooLarge

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
OUTPUT_LIMIT = 100_000_000          # output pixels


class BadRequest(GluonSRError):
    """A request whose options or upload are wrong (HTTP 400)."""


def list_models():
    """What the page offers: every SR and style network in params/, described by its sidecar."""
    models = []
    for name, meta in image_models(with_meta=True):
        denoise = meta.get("inference", {}).get("denoise")
        if denoise and denoise.get("jpeg_quality"):
            continue                    # a denoising variant: reached through its family
        models.append({"name": name, "task": meta.get("task", "sr"),
                       "scale": meta.get("config", {}).get("scale") if meta.get("task", "sr") == "sr" else 1,
                       "denoise": bool(denoise),
                       "style_image": meta.get("style", {}).get("image")})
    return models


def _options(allowed):
    """The request's JSON options, checked against `allowed` {key: validator}."""
    text = request.form.get("options", "{}")
    try:
        options = json.loads(text)
    except ValueError:
        raise BadRequest("options: not valid JSON")
    if not isinstance(options, dict):
        raise BadRequest("options: must be a JSON object")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise BadRequest(f"options: unknown {', '.join(unknown)} (known: {', '.join(allowed)})")
    return {key: check(key, options[key]) for key, check in allowed.items() if key in options}


def _choice(values):
    def check(key, value):
        if value not in values:
            raise BadRequest(f"{key}: {value!r} is not one of {', '.join(map(str, values))}")
        return value
    return check


def _number(low, high, kind=float):
    def check(key, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value <= high or (kind is int and value != int(value)):
            raise BadRequest(f"{key}: must be a{'n integer' if kind is int else ' number'} "
                             f"from {low} to {high}")
        return kind(value)
    return check


def _flag(key, value):
    if not isinstance(value, bool):
        raise BadRequest(f"{key}: must be true or false")
    return value


def create_app(max_upload_mb=20, max_pixels=25_000_000, capacity=4, backend="auto"):
    from gluon_sr.infer.stylize import Stylizer
    from gluon_sr.infer.upscale import Upscaler
    from gluon_sr.utils.imageio import read_image, write_image

    app = Flask(__name__, static_folder=STATIC, static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = max_upload_mb << 20
    runner = JobRunner(capacity)
    app.extensions["gluon_sr_runner"] = runner

    def run_job(make_processor, key, upload):
        """Decode the upload (size checked from its header first), run, encode a PNG."""
        with tempfile.TemporaryDirectory(prefix="gluon-sr-serve-") as folder:
            source = os.path.join(folder, "input")
            upload.save(source)

            def job():
                process = runner.processor(key, make_processor)

                def check_size(w, h):
                    ow, oh = process.output_size(w, h)
                    if ow * oh > OUTPUT_LIMIT:
                        raise ImageTooLarge(f"output would be {ow}x{oh}; limit "
                                            f"{OUTPUT_LIMIT / 1e6:.0f} MP")
                image = read_image(source, max_pixels=max_pixels, check_size=check_size)
                if min(image.size) < 4:
                    raise BadRequest(f"image too small ({image.size[0]}x{image.size[1]})")
                rgb, alpha = process(image)
                target = os.path.join(folder, "result.png")
                write_image(target, rgb, alpha, bit_depth=image.bit_depth)
                with open(target, "rb") as f:
                    return f.read(), getattr(process, "choice", "")
            data, note = runner.run(job)
        response = send_file(_bytes(data), mimetype="image/png")
        if note:
            response.headers["X-Gluon-SR-Note"] = note
        return response

    def upload():
        file = request.files.get("image")
        if file is None or not file.filename:
            raise BadRequest("no image: send the file as multipart field 'image'")
        return file

    def model_names(task):
        return [m["name"] for m in list_models() if m["task"] == task]

    @app.get("/")
    def page():
        return send_file(os.path.join(STATIC, "index.html"))

    @app.get("/healthz")
    def health():
        return jsonify(ok=True)

    @app.get("/api/models")
    def models():
        return jsonify(models=list_models())

    @app.post("/api/upscale")
    def upscale():
        options = _options({"model": _choice(model_names("sr")),
                            "denoise": _choice(["auto", "0", "1", None])})
        name, denoise = options.get("model", "sr_x4"), options.get("denoise")
        if name not in model_names("sr"):
            raise BadRequest(f"model: {name!r} is not an SR model here")

        def make():
            if denoise:
                from gluon_sr.infer.denoise import DenoisingUpscaler

                return DenoisingUpscaler(name, denoise, backend=backend)
            return Upscaler(name, backend=backend)
        return run_job(make, ("sr", name, denoise), upload())

    @app.post("/api/stylize")
    def stylize():
        options = _options({"style": _choice(model_names("style")), "strength": _number(0, 1),
                            "preserve_color": _flag, "size": _number(0, 4096, int)})
        if "style" not in options:
            raise BadRequest("options: style is required (GET /api/models lists them)")
        if 0 < options.get("size", 0) < 16:
            raise BadRequest("size: must be 0 (as it is) or from 16 to 4096")

        def make():
            return Stylizer(options["style"], backend=backend, size=options.get("size", 0),
                            preserve_color=options.get("preserve_color", False),
                            strength=options.get("strength", 1.0))
        key = ("style",) + tuple(sorted(options.items()))
        return run_job(make, key, upload())

    @app.errorhandler(BadRequest)
    def bad_request(e):
        return jsonify(error=str(e)), 400

    @app.errorhandler(ImageTooLarge)
    def too_large(e):
        return jsonify(error=_without_path(str(e))), 413

    @app.errorhandler(GluonSRError)
    def user_error(e):
        return jsonify(error=_without_path(str(e))), 400

    @app.errorhandler(QueueFull)
    def busy(_):
        response = jsonify(error="busy: too many images waiting; try again shortly")
        response.headers["Retry-After"] = "5"
        return response, 503

    @app.errorhandler(413)
    def upload_too_large(_):
        return jsonify(error=f"upload larger than {max_upload_mb} MB"), 413

    @app.errorhandler(404)
    def not_found(_):
        return jsonify(error="no such page or endpoint"), 404

    @app.errorhandler(405)
    def wrong_method(_):
        return jsonify(error="method not allowed here"), 405

    return app


def _bytes(data):
    import io

    return io.BytesIO(data)


def _without_path(message):
    """Messages name the server's temporary file; the client knows its upload as 'image'."""
    head, sep, rest = message.partition(": ")
    return f"image: {rest}" if sep and os.path.isabs(head) else message
