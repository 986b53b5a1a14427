import ArgumentParser
import Features
import Foundation
import WeightLoader

@main
struct Extract: AsyncParsableCommand {
    static let version = RunRecord.toolVersion

    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Turn images into CNN features with published Keras weights, without Python.",
        discussion: """
            The main job: a folder of images in, one row of features per image out, the \
            features Keras would give (load_img + preprocess_input + predict with \
            include_top=False), from the weight files you already have in ~/.keras/models/.

            Examples:
              extract --model mobilenet --pooling avg imgs/ -o feats.npy
                imgs/cats/*.jpg, imgs/dogs/*.jpg -> feats.npy (N, 1024) and beside it
                feats.labels.npy, .classes.txt, .index.csv, .run.json
              extract --model resnet50 --interpolation bilinear photos/ -o feats.h5
              extract --weights my_model.h5 new_imgs/ -o probs.npy
                your own saved Keras model run whole (its Dense head too), built
                from its config; --backbone-only for the features of the
                keras.applications backbone inside it
              extract --model resnet50 --include-top photos/ -o probs.npy
                ImageNet class probabilities (N, 1000); each photo's top 5
                classes printed, as decode_predictions, and in
                probs.predictions.csv
              extract models                 every model, its input size and width
              extract fetch --model efficientnetb0   weights into ~/.keras/models
              extract inspect my_model.h5     what a weight file holds, which model

            Then a classifier on the features, and labels for new images:
              extract fit feats.npy -o head.json     LogisticRegression, cross-validated
              extract classify --head head.json new/ -o preds.csv
            or in Python: X = np.load("feats.npy"); y = np.load("feats.labels.npy"); \
            LogisticRegression().fit(X, y).

            `extract run --help` lists every option of the main job. Exit status: 0 success; \
            1 bad input (unreadable or foreign file, wrong model, hash mismatch, no images, \
            unwritable output); 64 bad command line; 130 interrupted.
            """,
        version: version,
        subcommands: [
            Run.self, Merge.self, Fit.self, Predict.self, Classify.self, NeighborsCommand.self, Duplicates.self,
            Report.self,
            Inspect.self,
            Models.self, Fetch.self, Verify.self, ProbeWeights.self,
        ],
        defaultSubcommand: Run.self
    )
}

extension Extract {
    /// Every failure ends the same way, whatever raised it: one `error: …` line on stderr and the
    /// documented status (64 for a bad command line, 1 for bad input). ArgumentParser's own
    /// `Error: …` plus usage block is replaced; help and version still print as usual.
    nonisolated static func main() async {
        ProbeWeights.install()
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            // Already reported (`fail`), or a plain exit.
            exit(withError: code)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let text = message(for: error).split(whereSeparator: \.isNewline).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            .filter { !$0.isEmpty }.joined(separator: "; ")
            let hint = code.rawValue == 64 && !text.contains("(see `") ? " (see `extract --help`)" : ""
            FileHandle.standardError.write(Data("error: \(text)\(hint)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// Prints a user-data error the house way, one line after `error: `, and exits 1.
func fail(_ error: Error) -> ExitCode {
    let text: String
    if let e = error as? WeightLoaderError {
        text = e.description
    } else if let e = error as? LocalizedError, let d = e.errorDescription {
        text = d
    } else {
        text = String(describing: error)
    }
    FileHandle.standardError.write(Data("error: \(text.replacingOccurrences(of: "\n", with: " "))\n".utf8))
    return ExitCode(1)
}
