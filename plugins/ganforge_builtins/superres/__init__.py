"""Super-resolution: paired data, SRResNet/RRDB/VGG-style networks, pixel and perceptual losses, PSNR/SSIM/LPIPS, `upscale`, `interpolate-weights` and `import esrgan`.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(
    __name__, "data", "losses", "metrics", "networks",
    commands={
        "upscale": (f"{__name__}.commands:upscale_command", "Upscale an image, or every image of a folder, with a super-resolution run's generator."),
        "interpolate-weights": (f"{__name__}.commands:interpolate_weights_command", "Blend two runs' generators (ESRGAN's network interpolation) into a new run directory."),
        "import esrgan": (f"{__name__}.importing:import_esrgan", "Import ESRGAN / Real-ESRGAN / BasicSR super-resolution weights as a run directory."),
    },
)
