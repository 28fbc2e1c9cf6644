#!/usr/bin/python3
"""Generate PlateKeeper's TestFrames: synthetic scenes with licence plates.

Everything here is made from scratch: plates are rendered in bold condensed fonts from
Debian's font packages (fonts-dejavu-core, fonts-liberation) and put on simple synthetic
vehicle scenes with perspective, blur, noise, glare and night/infrared-like contrast.
No photograph is used.

Output (deterministic for a given seed):
  stills/NAME.jpg + NAME.txt   single frames; NAME.txt is ground truth in the openalpr
                               benchmark layout: "NAME.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE"
  pass-day/                    a vehicle approaching in daylight: JPEG frames + manifest.json
  pass-night/                  the same at night under infrared light: JPEG frames + manifest.json
  pass-yuyv/                   a short pass recorded as raw YUYV 4:2:2 frames + manifest.json
  Each recording folder also holds expected.txt: the plate and the region rules to use.

Needs: /usr/bin/python3 with python3-pil and python3-numpy, fonts-dejavu-core, fonts-liberation.
Run:   /usr/bin/python3 TestFrames/generate.py [--out TestFrames] [--seed 7]
"""
import argparse
import io
import json
import math
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",
]
LABEL_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # US serials avoid I, O, Q
DIGITS = "0123456789"


def serial(rng, pattern):
    return "".join(rng.choice(LETTERS) if p == "@" else rng.choice(DIGITS) for p in pattern)


def render_plate(text, rng, width=480, style="us", font_path=None):
    """A plate image (RGB) with border, header and the serial; characters ~45 % of its height."""
    height = width // 2 if style == "us" else int(width / 4.7)
    bg = (238, 238, 230) if rng.random() < 0.7 else (246, 214, 72)
    ink = (25, 30, 80) if style == "us" and rng.random() < 0.5 else (20, 20, 20)
    plate = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(plate)
    d.rounded_rectangle([2, 2, width - 3, height - 3], radius=height // 12, outline=ink, width=max(3, height // 40))
    font_path = font_path or rng.choice(FONTS)
    char_h = int(height * (0.46 if style == "us" else 0.62))
    font = ImageFont.truetype(font_path, size=10)
    # Find the font size whose capital height is char_h.
    size = 10
    while True:
        f = ImageFont.truetype(font_path, size=size + 2)
        box = f.getbbox("H")
        if box[3] - box[1] > char_h:
            break
        size += 2
        font = f
    text_w = font.getlength(text)
    max_w = width * (0.84 if style == "us" else 0.80)
    spacing = 0
    if text_w > max_w:
        font = ImageFont.truetype(font_path, size=int(size * max_w / text_w))
        text_w = font.getlength(text)
    box = font.getbbox("H")
    cap_h = box[3] - box[1]
    cy = height * (0.55 if style == "us" else 0.5)
    x = (width - text_w) / 2 + (width * 0.04 if style == "eu" else 0)
    d.text((x, cy - cap_h / 2 - box[1]), text, font=font, fill=ink)
    if style == "us":
        label = ImageFont.truetype(LABEL_FONT, size=max(8, height // 9))
        header = rng.choice(["TESTLAND", "PLATEKEEPER", "EXAMPLE STATE"])
        d.text(((width - label.getlength(header)) / 2, height * 0.07), header, font=label, fill=(150, 30, 30))
        slogan = rng.choice(["LAND OF TESTS", "REPLAY COUNTY", "EDGE OF NOWHERE"])
        small = ImageFont.truetype(LABEL_FONT, size=max(7, height // 12))
        d.text(((width - small.getlength(slogan)) / 2, height * 0.82), slogan, font=small, fill=ink)
        for bx in (width * 0.2, width * 0.8):  # bolts
            d.ellipse([bx - 4, height * 0.12 - 4, bx + 4, height * 0.12 + 4], fill=(120, 120, 120))
    else:
        d.rectangle([4, 4, int(width * 0.085), height - 5], fill=(30, 60, 170))
        d.text((int(width * 0.02), int(height * 0.62)), "D", font=ImageFont.truetype(LABEL_FONT, size=height // 4),
               fill=(240, 240, 240))
    return plate


def perspective_coeffs(src, dst):
    """Coefficients for PIL's PERSPECTIVE transform mapping dst quad -> src quad."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = np.array([c for p in src for c in p], dtype=float)
    return np.linalg.solve(np.array(a, dtype=float), b).tolist()


def scene(w, h, rng, night=False):
    """A road, a vehicle rear and its surroundings. Returns the image and the plate mount point."""
    img = Image.new("RGB", (w, h))
    arr = np.zeros((h, w, 3), dtype=np.float32)
    top = np.array([90, 110, 140] if not night else [8, 8, 10], dtype=np.float32)
    bottom = np.array([70, 70, 72] if not night else [15, 15, 15], dtype=np.float32)
    t = np.linspace(0, 1, h)[:, None, None]
    arr[:] = top * (1 - t) + bottom * t
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    # Lane markings.
    for i in range(6):
        y0 = int(h * (0.6 + 0.07 * i))
        d.rectangle([w // 2 - 4 - i, y0, w // 2 + 4 + i, y0 + int(h * 0.03)], fill=(200, 200, 190) if not night else (40, 40, 40))
    # Roadside clutter with text-like marks (a sign), to give the finder something to reject.
    sx = int(w * rng.uniform(0.03, 0.12))
    d.rectangle([sx, int(h * 0.1), sx + int(w * 0.12), int(h * 0.22)], fill=(20, 90, 40) if not night else (10, 20, 10))
    sign = ImageFont.truetype(LABEL_FONT, size=max(10, h // 40))
    d.text((sx + 8, int(h * 0.13)), rng.choice(["EXIT 12", "SPEED 30", "DEPOT"]), font=sign, fill=(230, 230, 230) if not night else (60, 60, 60))
    return img


def vehicle(img, cx, cy, scale, rng, colour, night=False):
    """Draws a vehicle rear centred on the plate mount (cx, cy); returns nothing."""
    d = ImageDraw.Draw(img)
    bw, bh = 900 * scale, 560 * scale
    body = tuple(int(c * (0.35 if night else 1)) for c in colour)
    d.rounded_rectangle([cx - bw / 2, cy - bh * 0.72, cx + bw / 2, cy + bh * 0.28], radius=60 * scale, fill=body)
    window = (30, 40, 55) if not night else (5, 5, 8)
    d.rounded_rectangle([cx - bw * 0.38, cy - bh * 0.68, cx + bw * 0.38, cy - bh * 0.36], radius=30 * scale, fill=window)
    light = (200, 20, 20) if not night else (255, 60, 60)
    for sx in (-1, 1):
        d.rectangle([cx + sx * bw * 0.44 - 50 * scale, cy - bh * 0.28, cx + sx * bw * 0.44 + 50 * scale, cy - bh * 0.12], fill=light)
    bumper = tuple(max(0, c - 40) for c in body)
    d.rectangle([cx - bw * 0.5, cy + bh * 0.12, cx + bw * 0.5, cy + bh * 0.26], fill=bumper)


def place_plate(img, plate, cx, cy, plate_w, rng, tilt=0.0, yaw=0.0):
    """Pastes the plate with a perspective warp centred on (cx, cy). Returns its bounding box."""
    pw, ph = plate.size
    s = plate_w / pw
    hw, hh = pw * s / 2, ph * s / 2
    # Corners after yaw (one side further away) and tilt (rotation in the image plane).
    k = 1 + yaw
    corners = [(-hw, -hh * k), (hw, -hh / k), (hw, hh / k), (-hw, hh * k)]
    c, sn = math.cos(tilt), math.sin(tilt)
    dst = [(cx + x * c - y * sn, cy + x * sn + y * c) for x, y in corners]
    src = [(0, 0), (pw, 0), (pw, ph), (0, ph)]
    coeffs = perspective_coeffs(src, dst)
    warped = plate.transform(img.size, Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    mask = Image.new("L", plate.size, 255).transform(img.size, Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    img.paste(warped, (0, 0), mask)
    xs, ys = [p[0] for p in dst], [p[1] for p in dst]
    return int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys))


def degrade(img, rng, blur=0.0, noise=0.0, glare=0.0, night=False):
    if blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img).astype(np.float32)
    h, w = arr.shape[:2]
    if glare > 0:
        gx, gy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.7) * h
        yy, xx = np.mgrid[0:h, 0:w]
        g = np.exp(-(((xx - gx) / (0.25 * w)) ** 2 + ((yy - gy) / (0.2 * h)) ** 2))
        arr += glare * 255 * g[:, :, None]
    if night:
        # Infrared: monochrome, retroreflective plate bright, the rest dim and grainy.
        lum = arr.mean(axis=2, keepdims=True)
        arr = np.repeat(lum, 3, axis=2)
    if noise > 0:
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        arr += nrng.normal(0, noise, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def jpeg_bytes(img, quality=88):
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_truth(path, name, box, text):
    x, y, w, h = box
    with open(path, "w") as f:
        f.write(f"{name}\t{x}\t{y}\t{w}\t{h}\t{text}\n")


STILLS = [
    # name, style, pattern, plate width px, tilt rad, yaw, blur, noise, glare, night, font index
    ("day-clear", "us", "#@@@###", 300, 0.00, 0.00, 0.6, 3, 0.0, False, 0),
    ("day-tilted", "us", "@@@####", 280, 0.08, 0.10, 0.8, 4, 0.0, False, 1),
    ("day-small", "us", "###@@@", 170, -0.03, 0.05, 0.7, 4, 0.0, False, 0),
    ("day-glare", "us", "#@@@###", 260, 0.02, -0.08, 0.8, 4, 0.35, False, 1),
    ("day-blur", "us", "@@@###", 260, 0.00, 0.00, 1.6, 5, 0.0, False, 0),
    ("dusk-noisy", "us", "@@@####", 250, -0.05, 0.0, 1.0, 12, 0.0, False, 1),
    ("night-ir", "us", "#@@@###", 280, 0.03, 0.06, 1.0, 8, 0.0, True, 0),
    ("night-ir-far", "us", "###@@@", 190, 0.0, 0.0, 0.8, 9, 0.0, True, 1),
    ("eu-day", "eu", "@@###@@", 330, 0.02, 0.0, 0.7, 4, 0.0, False, 0),
    ("eu-tilted", "eu", "@@#####", 320, -0.06, 0.08, 0.9, 5, 0.0, False, 1),
]


def make_still(out, spec, rng):
    name, style, pattern, pw, tilt, yaw, blur, noise, glare, night, font = spec
    w, h = 1280, 720
    text = serial(rng, pattern)
    img = scene(w, h, rng, night)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.55, 0.7) * h
    vehicle(img, cx, cy, pw / 300 * 0.9, rng, rng.choice([(150, 20, 20), (30, 60, 120), (200, 200, 205), (40, 40, 40)]), night)
    plate = render_plate(text, rng, style=style, font_path=FONTS[font])
    if night:
        plate = plate.point(lambda v: min(255, int(v * 1.05 + 20)))
    box = place_plate(img, plate, cx, cy, pw, rng, tilt, yaw)
    img = degrade(img, rng, blur, noise, glare, night)
    os.makedirs(os.path.join(out, "stills"), exist_ok=True)
    with open(os.path.join(out, "stills", name + ".jpg"), "wb") as f:
        f.write(jpeg_bytes(img))
    write_truth(os.path.join(out, "stills", name + ".txt"), name + ".jpg", box, text)


def make_pass(out, folder, rng, frames, size, night=False, raw_yuyv=False, start="2026-11-27T08:15:00.000Z", fps=10):
    """A vehicle approaching: the plate moves down and grows from frame to frame."""
    w, h = size
    text = serial(rng, "#@@@###")
    colour = rng.choice([(150, 20, 20), (30, 60, 120), (200, 200, 205)])
    font = FONTS[rng.randrange(len(FONTS))]
    plate_master = render_plate(text, rng, style="us", font_path=font)
    if night:
        plate_master = plate_master.point(lambda v: min(255, int(v * 1.05 + 20)))
    base = scene(w, h, rng, night)
    path = os.path.join(out, folder)
    os.makedirs(path, exist_ok=True)
    entries = []
    t0_ms = 0
    for i in range(frames):
        f = i / max(1, frames - 1)
        img = base.copy()
        pw = (0.12 + 0.16 * f) * w
        cx = w * (0.42 + 0.08 * f)
        cy = h * (0.45 + 0.25 * f)
        vehicle(img, cx, cy, pw / 300 * 0.9, rng, colour, night)
        box = place_plate(img, plate_master, cx, cy, pw, rng, tilt=0.02 * (1 - f), yaw=0.05 * (1 - f))
        img = degrade(img, rng, blur=0.6 + 0.6 * (1 - f), noise=8 if night else 4, night=night)
        ms = t0_ms + i * 1000 // fps
        stamp = start[:17] + f"{int(start[17:19]) + ms // 1000:02d}.{ms % 1000:03d}Z"
        if raw_yuyv:
            name = f"{i + 1:06d}.yuv"
            rgb = np.asarray(img).astype(np.float32)
            y = 0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2]
            u = -0.169 * rgb[:, :, 0] - 0.331 * rgb[:, :, 1] + 0.5 * rgb[:, :, 2] + 128
            v = 0.5 * rgb[:, :, 0] - 0.419 * rgb[:, :, 1] - 0.081 * rgb[:, :, 2] + 128
            yuyv = np.empty((h, w * 2), dtype=np.uint8)
            yuyv[:, 0::2] = np.clip(y, 0, 255).astype(np.uint8)
            yuyv[:, 1::4] = np.clip((u[:, 0::2] + u[:, 1::2]) / 2, 0, 255).astype(np.uint8)
            yuyv[:, 3::4] = np.clip((v[:, 0::2] + v[:, 1::2]) / 2, 0, 255).astype(np.uint8)
            with open(os.path.join(path, name), "wb") as fh:
                fh.write(yuyv.tobytes())
            entries.append({"file": name, "captureTime": stamp, "pixelFormat": "YUYV", "width": w, "height": h,
                            "sequence": i + 1})
        else:
            name = f"{i + 1:06d}.jpg"
            with open(os.path.join(path, name), "wb") as fh:
                fh.write(jpeg_bytes(img, 85))
            entries.append({"file": name, "captureTime": stamp, "sequence": i + 1})
        write_truth(os.path.join(path, name.rsplit(".", 1)[0] + ".txt"), name, box, text)
    manifest = {"version": 1, "camera": folder, "clockQuality": "synchronized", "frames": entries}
    with open(os.path.join(path, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    with open(os.path.join(path, "expected.txt"), "w") as fh:
        fh.write(f"{text}\tus\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pass-1080p", action="store_true",
                    help="also write pass-1080p, a 1920x1080 pass for `platekeeper bench stages` (not kept in the repository)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    for spec in STILLS:
        make_still(args.out, spec, rng)
    make_pass(args.out, "pass-day", rng, frames=12, size=(1280, 720))
    make_pass(args.out, "pass-night", rng, frames=12, size=(1280, 720), night=True, start="2026-11-27T22:40:00.000Z")
    make_pass(args.out, "pass-yuyv", rng, frames=6, size=(640, 360), raw_yuyv=True, start="2026-11-27T12:00:00.000Z")
    if args.pass_1080p:  # last, so the frames above do not depend on it
        make_pass(args.out, "pass-1080p", rng, frames=12, size=(1920, 1080), start="2026-11-27T09:30:00.000Z")


if __name__ == "__main__":
    main()
