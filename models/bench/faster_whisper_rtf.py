"""faster-whisper (CTranslate2) on the same CTranslate2 weights `cargo xtask setup` fetches (and
converts for whisper.cpp): the peer figures for Whisper's word error rate, real-time factor and
per-clip latency in `cargo xtask bench`.

Greedy decoding, no VAD filter, no conditioning on previous text, float32 compute on CPU (the
weights are fp16; CTranslate2 has no fp16 CPU kernels, whisper.cpp likewise computes in f32 from
f16 weights), the given number of threads. Prints one JSON line."""
import argparse
import json
import time

from faster_whisper import WhisperModel, decode_audio


def transcribe(model, x):
    segments, _ = model.transcribe(
        x,
        language="en",
        beam_size=1,
        best_of=1,
        temperature=0.0,
        condition_on_previous_text=False,
        vad_filter=False,
    )
    return " ".join(s.text.strip() for s in segments)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("wavs", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    model = WhisperModel(a.model_dir, device="cpu", compute_type="float32", cpu_threads=a.threads, num_workers=1)
    # Decoded (WAV or FLAC, 16 kHz) before timing: the timed part is transcription alone.
    clips = [decode_audio(p, sampling_rate=16000) for p in a.wavs]
    transcribe(model, clips[0])  # warm-up
    walls, texts = [], []
    for x in clips:
        t0 = time.perf_counter()
        texts.append(transcribe(model, x))
        walls.append(time.perf_counter() - t0)
    audio_s = sum(len(x) for x in clips) / 16000.0
    print(json.dumps({
        "audio_s": audio_s,
        "wall_s": sum(walls),
        "rtf": sum(walls) / audio_s,
        "per_clip_ms": [w * 1e3 for w in walls],
        "texts": texts,
    }))


if __name__ == "__main__":
    main()
