"""``ganforge serve``: a small HTTP service that draws samples from a trained generator."""

from __future__ import annotations

import errno

import click

from ganforge.artifacts.loading import TrainedGenerator
from ganforge.artifacts.sampling import sampler_for
from ganforge.artifacts.trained import describe, load_from_options, trained_options
from ganforge.errors import GanforgeError
from ganforge.serving import PageInfo, SampleServer
from ganforge.serving.tiling import image_to_image_scale
from ganforge.serving.upscale import MAX_BYTES, MAX_PIXELS, Upscaler


@click.command()
@click.argument("target", metavar="RUN_DIR|CHECKPOINT", type=click.Path(exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on (0: any free port).")
@click.option("--quiet", is_flag=True, help="Do not log each request.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=MAX_BYTES, show_default=True, help="POST /upscale: largest request body.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True, help="POST /upscale: largest input image, in pixels.")
@trained_options
def serve(
    target: str, host: str, port: int, quiet: bool, max_bytes: int, max_pixels: int, checkpoint: str, spec: str | None, device: str, no_ema: bool
) -> None:
    """Serve the generator of RUN_DIR (or a checkpoint) over HTTP until Ctrl-C or SIGTERM.

    \b
    GET /         a page with a sample grid and a form for class, count, seed, truncation
    GET /classes  the class names as JSON
    GET /sample   a PNG grid, e.g. /sample?class=Sneaker&n=16&seed=3&truncation=0.7
    POST /upscale a super-resolution run only: a PNG/JPEG body in, the upscaled PNG out
    A bad parameter gets status 400 and a JSON error saying what is allowed.

    \b
    Examples:
      ganforge serve runs/cgan/20250101-120000
      ganforge serve runs/cgan/20250101-120000 --port 8080 --checkpoint best
      curl -o grid.png 'http://127.0.0.1:8000/sample?class=Sneaker&n=16&seed=3'
    """
    trained = load_from_options(target, checkpoint, spec, device, no_ema)
    sampler = sampler_for(trained)
    log = None if quiet else (lambda line: click.echo(line, err=True))
    try:
        upscaler = Upscaler(trained.generator, max_bytes, max_pixels) if image_to_image_scale(trained.generator, "lr") else None
        server = SampleServer((host, port), sampler, page_info(trained, sampler.class_names), trained.experiment.dataset, log, upscaler)
    except OSError as exc:
        fix = "pick another --port (0 picks a free one)" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "check --host (an address or name of this machine, e.g. 127.0.0.1 or 0.0.0.0)"
        raise GanforgeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); {fix}") from None
    click.echo(f"serving {describe(trained)} on {server.url} (Ctrl-C to stop)", err=True)
    try:
        received = server.serve_until_signalled()
    finally:
        server.server_close()
    click.echo(f"stopped ({received.name})", err=True)


def page_info(trained: TrainedGenerator, class_names: list[str]) -> PageInfo:
    """Title and details of the served page for a loaded run."""
    generator = trained.generator
    resolved = trained.experiment.resolved
    shape = tuple(generator.image_shape)
    weights = "EMA weights" if trained.uses_ema else "generator weights"
    step = f"step {trained.step}, " if trained.step is not None else ""
    details = f"generator {resolved['generator']['name']}, loss {resolved['loss']['name']}, data {resolved['data']['name']}; {step}{weights}"
    return PageInfo(trained.experiment.name, details, class_names, shape[-2:] if len(shape) == 3 else None)
