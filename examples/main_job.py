"""The main job (``make demo``): train the Keras-clone network on real handwritten digits with a progress bar,
print its test accuracy, and write the learning curve, a decision boundary and a computational graph to out/.

    python examples/main_job.py [--epochs 10] [--out out] [--pictures-to docs/images]
"""

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import graph  # noqa: E402
import keras_clone  # noqa: E402
import spirals  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="out")
    p.add_argument("--train-size", type=int, default=None, help="train on the first N images only (quick runs)")
    p.add_argument("--pictures-to", default=None, help="also copy the pictures here (the README's images)")
    args = p.parse_args(argv)

    print("== 1/3: the Keras-clone network on 4,000 real MNIST digits ==")
    result = keras_clone.run(args.epochs, args.out, train_size=args.train_size)
    print("\n== 2/3: decision boundary of an MLP on the spirals ==")
    boundary = spirals.run(args.out)
    print("\n== 3/3: the computational graph of a training step ==")
    drawn = graph.run(args.out)

    pictures = [result["learning_curve"], boundary["decision_boundary"], drawn["picture"], drawn["dot"]]
    if drawn.get("png") and drawn["png"] not in pictures:
        pictures.append(drawn["png"])
    print(f"\ntest accuracy {result['accuracy']:.2%} on {result['test_images']:,} held-out digits; pictures "
          f"written to {os.path.abspath(args.out)}:")
    for path in pictures:
        print(f"  {path}")
    if args.pictures_to:
        os.makedirs(args.pictures_to, exist_ok=True)
        for path in pictures:
            shutil.copy(path, args.pictures_to)
        print(f"copied to {args.pictures_to}")
    return {"accuracy": result["accuracy"], "pictures": pictures}


if __name__ == "__main__":
    main()
