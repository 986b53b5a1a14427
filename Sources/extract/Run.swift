import ArgumentParser
import Backbones
import FeatureFiles
import Features
import Foundation
import Images

/// The main job: `extract --model mobilenet --pooling avg imgs/ -o feats.npy`.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Turn a folder of images into a features matrix (the default command).",
        discussion: """
            Reads every image as keras.utils.load_img does (PIL semantics: RGB conversion, \
            nearest-neighbour resize to the model's input size unless --interpolation says \
            otherwise), applies the model's preprocess_input, runs the backbone without its \
            classifier and writes one row per image.

            Input: a folder with one sub-folder per class (labels 0..n-1 in the sorted order \
            flow_from_directory uses, files in its order), a flat folder of images, a table \
            (.csv or .tsv with a header row, read as flow_from_dataframe reads it: paths \
            relative to the table's folder, labels from a class or label column, classes \
            sorted, rows in table order; rows naming a missing or non-image file are dropped \
            with a warning, as its validate_filenames does), a text file listing image paths, \
            or image files. Extensions: .png .jpg .jpeg .bmp (and .ppm .tif .tiff, which are \
            listed as Keras lists them but skipped as undecodable); a .gif named on the \
            command line is read (first frame).

            Stable labels: --classes a,b,c reads only those classes, labelled in that order \
            (flow_from_directory(classes=[...])); --classes-from train/feats.classes.txt \
            labels a second folder or table as the training run did, so a folder holding two \
            of four classes keeps their training labels. A listed class that is absent keeps \
            its label with no images (a warning says so, as Keras keeps it); with \
            --classes-from, a class it does not list is an error.

            Output by -o extension: .npy (float32 (N, C) pooled; a feature map (--pooling \
            none) as Keras returns it, (N, H, W, C), or (N, H·W·C) with --flatten; beside it \
            NAME.labels.npy, NAME.classes.txt, NAME.index.csv), .npz or .h5 (features, labels, \
            paths, class_names inside, features in the same shape); always NAME.run.json, the \
            run record. Files appear only when complete.

            With --include-top the model keeps its ImageNet classifier (include_top=True, the \
            published *_tf_dim_ordering_tf_kernels.h5 files): each row is the 1000 class \
            probabilities, and the top-k classes of every image (--top, default 5) are \
            printed as decode_predictions gives them and written to NAME.predictions.csv \
            (row, path, rank, wnid, name, probability). --pooling and --layer do not apply \
            there, nor --input-size for VGG, whose classifier is sized for 224×224.

            Your own saved model (--weights my_model.h5 or .keras, as model.save wrote it) \
            runs whole, built from its config (nothing in it is executed): each row is its \
            output at its own input size and channels, --layer NAME takes any layer (of a \
            nested model too: mobilenetv2_1.00_160/block_13_expand_relu). Preprocessing is \
            the nested keras.applications backbone's, else none (with a warning; \
            --preprocess overrides). A model with several outputs needs -o NAME.npz: one \
            array per output, named by its layer. --class-names classes.txt (one name per \
            line in output order, as a training run's NAME.classes.txt) adds the top-k \
            classes per image, printed and in NAME.predictions.csv (row, path, rank, label, \
            class, score).

            Unreadable images are skipped with a warning and listed in the run record \
            (--strict stops instead); so is anything that is not a regular file (a FIFO, a \
            device, a socket) and any file over 1 GiB, refused before it is read. Images being \
            decoded hold at most 1 GiB of memory at once, whatever --threads (sized from each \
            file's header before it is decoded; one image that needs more is decoded alone).

            A run that stops (Ctrl-C, a kill, a full disk, pre-emption, a crash) keeps the \
            images it finished in .NAME.npy.partial/ beside the output, saved every batch; the \
            same command again continues from there and writes exactly the files an \
            uninterrupted run writes. --restart starts over instead; a run with other \
            settings or another image list is refused until then. Nothing appears at -o \
            before the run is complete.

            Exit status: 0 done (even with skipped images); 1 bad input (no images, \
            unreadable weights, wrong model, unwritable output, an image with --strict); \
            64 bad command line; 130 interrupted by Ctrl-C, SIGTERM or a closed terminal \
            (SIGHUP; finished images are kept for the same command to continue).
            """
    )

    @OptionGroup var selection: ModelOptions

    @Option(
        help: ArgumentHelp(
            "A weights file to use instead of the Keras cache: a published file, or your own saved model (.h5 or .keras), which runs whole, built from its config (see --backbone-only).",
            valueName: "path"))
    var weights: String?

    @Flag(
        help:
            "With --weights of your own saved model (a backbone with your layers on top): the features of the keras.applications backbone inside, pooled, instead of the whole model's output."
    )
    var backboneOnly = false

    @Option(
        help: ArgumentHelp(
            "Global pooling after the last block: avg (the default), max, or none (the feature map, (N, H, W, C) as Keras returns it; see --flatten).",
            valueName: "mode"))
    var pooling: GlobalPooling?

    @Option(
        help: ArgumentHelp(
            "Take the features from this layer (Keras' name, e.g. conv4_block6_out or block4_pool) instead of the last block; --pooling then applies to its map.",
            valueName: "name"))
    var layer: String?

    @Flag(
        help:
            "With --pooling none: write the feature map as (N, H·W·C) rows instead of Keras' (N, H, W, C); the same floats in the same order."
    )
    var flatten = false

    @Option(
        help: ArgumentHelp(
            "Read only these class folders (or table labels), labelled 0..n-1 in this order, as flow_from_directory(classes=[...]); other class folders are not read.",
            valueName: "a,b,c"),
        transform: { try ClassList.selecting(commaSeparated: $0) })
    var classes: ClassList?

    @Option(
        help: ArgumentHelp(
            "Label as a previous run did: its NAME.classes.txt (one class per line, in label order). A class folder (or table label) it does not list is an error; a listed class may be absent.",
            valueName: "file"))
    var classesFrom: String?

    @Option(
        help: ArgumentHelp(
            "With a table input: the column of image paths, relative to the table's folder (default: the first column).",
            valueName: "name"))
    var pathColumn: String?

    @Option(
        help: ArgumentHelp(
            "With a table input: the column of class names (default: a column named class or label; without one the rows are unlabeled).",
            valueName: "name"))
    var labelColumn: String?

    @Option(
        help: ArgumentHelp(
            "Input size in pixels: N (square) or HxW such as 160x224, as Keras' input_shape. Default, as Keras decides it: a saved model's own input, else the size the published file was trained at (its name: _160_), else the model's default (224 for most; 299, 300, ...).",
            valueName: "n|hxw"))
    var inputSize: InputSize?

    @Option(
        help: ArgumentHelp(
            "Resize filter, as load_img(interpolation=): nearest (load_img's default), bilinear, bicubic, hamming, box, lanczos. With --resize tf: bilinear (the default there), nearest, bicubic.",
            valueName: "filter"))
    var interpolation: Interpolation?

    @Flag(
        help:
            "Crop the largest centred box of the target aspect ratio before resizing, as load_img(keep_aspect_ratio=True)."
    )
    var keepAspectRatio = false

    @Option(
        help: ArgumentHelp(
            "Resize semantics: pil (load_img, flow_from_directory) or tf (tf.image.resize, image_dataset_from_directory; default filter bilinear).",
            valueName: "kind"))
    var resize: ResizeMethod = .pil

    @Option(help: ArgumentHelp("Override the model's preprocessing: caffe, tf, torch or none.", valueName: "mode"))
    var preprocess: PreprocessMode?

    @Flag(help: "Apply the EXIF orientation tag (Keras ignores it).")
    var exifTranspose = false

    @Flag(
        help:
            "Decode JPEGs at 1/2, 1/4 or 1/8 scale when that still covers the input size (libjpeg's DCT scaling, as PIL's draft mode), then resize: several times faster on large photos, but NOT Keras' pixels; the default decodes every pixel as load_img does."
    )
    var fastDecode = false

    @Option(
        help: ArgumentHelp(
            "With --include-top or --class-names: how many classes to print and write per image, most probable first (default 5).",
            valueName: "k"))
    var top: Int?

    @Option(
        help: ArgumentHelp(
            "With your own saved model: its classes, one per line in output order (such as the NAME.classes.txt of the run you trained on); the top-k classes per image are printed and written to NAME.predictions.csv.",
            valueName: "file"))
    var classNames: String?

    @Option(
        help: ArgumentHelp(
            "Run one slice of the sorted image list, INDEX/COUNT from 0 (0/4 ... 3/4), written to NAME.shard-INDEX-of-COUNT.npy; join them with `extract merge`. Without it, a Slurm array task (SLURM_ARRAY_TASK_ID/COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, JOB_COMPLETIONS) is its shard.",
            valueName: "i/n"))
    var shard: String?

    @Option(help: "Images decoded ahead of the model per batch (at least one per thread).")
    var batchSize: Int = 32

    @Option(help: "Threads decoding images, and images run through the model at once (default: the CPU count).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Stop at the first unreadable image instead of skipping it.")
    var strict = false

    @Flag(
        help:
            "Discard what an unfinished run writing the same -o kept (.NAME.npy.partial/) and start from the first image; without it the same command continues where that run stopped."
    )
    var restart = false

    @Flag(help: "No progress display and no warnings; errors are still printed.")
    var quiet = false

    @Flag(help: "Never download weights; use the cache or --weights only.")
    var noDownload = false

    @Option(
        name: [.short, .customLong("output")],
        help: ArgumentHelp("Where to write the features: NAME.npy, NAME.npz or NAME.h5.", valueName: "file"))
    var output: String

    @Argument(
        help: ArgumentHelp(
            "A folder of images (class sub-folders give labels), a table (.csv/.tsv), a list file, or image files.",
            valueName: "input"))
    var inputs: [String] = []

    func validate() throws {
        if selection.model == nil && weights == nil {
            throw ValidationError(ExtractionError.noModel.description)
        }
        if inputs.isEmpty { throw ValidationError("give a folder of images, a list file or image files") }
        try validateTop()
        try validateDataset()
        if batchSize < 1 || threads < 1 { throw ValidationError("--batch-size and --threads must be at least 1") }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError(
                "-o \(output) is an existing folder; name the features file, such as \((output as NSString).appendingPathComponent("feats.npy"))"
            )
        }
        do { _ = try OutputFormat(path: output) } catch { throw ValidationError(String(describing: error)) }
        do { _ = try chosenShard() } catch { throw ValidationError(String(describing: error)) }
    }

    /// --shard, else the scheduler's task index, else none.
    func chosenShard() throws -> (shard: Shard, source: String)? {
        if let shard { return (try Shard(parsing: shard), "--shard") }
        return try Shard.fromEnvironment(ProcessInfo.processInfo.environment)
    }

    /// --include-top ends in the classifier's own pooling and Dense layers, on its own input.
    func validateTop() throws {
        if classNames != nil {
            if selection.includeTop {
                throw ValidationError(
                    "--class-names names your saved model's classes; --include-top's ImageNet classes are named already"
                )
            }
            if backboneOnly || weights == nil {
                throw ValidationError(
                    "--class-names names the classes of your own saved model run whole: give it with --weights (without --backbone-only)"
                )
            }
        }
        if let top, !(1...ImageNetClasses.all.count).contains(top) {
            throw ValidationError("--top must be between 1 and \(ImageNetClasses.all.count)")
        }
        guard selection.includeTop else {
            if top != nil, classNames == nil {
                throw ValidationError(
                    "--top applies to named classes: add --include-top (ImageNet) or --class-names FILE (your saved model's)"
                )
            }
            return
        }
        if pooling != nil {
            throw ValidationError(
                "--pooling applies to features without the classifier; --include-top ends in the classifier's own pooling and Dense layers"
            )
        }
        if layer != nil {
            throw ValidationError(
                "--layer takes features from inside the backbone; --include-top gives the classifier's probabilities: use one or the other"
            )
        }
        // A size the classifier's weights cannot take is a bad command line; with --model it is
        // known before any file is read (with --weights, the job asks the same question).
        if inputSize != nil, weights == nil, let decision = try? ModelDecider.decide(request) {
            do { try decision.checkInput() } catch { throw ValidationError(String(describing: error)) }
        }
    }

    var request: ModelRequest {
        ModelRequest(
            model: selection.model, alpha: selection.alpha, rows: selection.rows, minimalistic: selection.minimalistic,
            includeTop: selection.includeTop, weightsPath: weights, inputSize: inputSize, backboneOnly: backboneOnly)
    }

    /// --classes, --classes-from, the table columns and --flatten.
    func validateDataset() throws {
        if classes != nil && classesFrom != nil {
            throw ValidationError("--classes and --classes-from both say how to number the labels: give one")
        }
        if (pathColumn != nil || labelColumn != nil) && !(inputs.count == 1 && Dataset.isTableName(inputs[0])) {
            throw ValidationError("--path-column and --label-column apply to a table input (one .csv or .tsv file)")
        }
        if flatten && pooling != GlobalPooling.none {
            throw ValidationError(
                "--flatten applies to a feature map: add --pooling none (pooled features are already (N, C))")
        }
    }

    var job: ExtractionJob {
        var job = ExtractionJob(
            inputs: inputs, output: output, model: request, classes: classes, classesFrom: classesFrom,
            columns: TableColumns(path: pathColumn, label: labelColumn), download: !noDownload, pooling: pooling,
            layer: layer, flatten: flatten,
            image: ImageSettings(
                interpolation: interpolation, keepAspectRatio: keepAspectRatio, resize: resize,
                exifTranspose: exifTranspose, fastDecode: fastDecode),
            preprocess: preprocess, top: top, classNames: classNames, batchSize: batchSize, threads: threads,
            strict: strict,
            plan: selection.planOptions)
        job.restart = restart
        if let chosen = try? chosenShard() {
            job.shard = chosen.shard
            job.shardSource = chosen.source
        }
        return job
    }

    func run() async throws {
        // Past a file-size limit, writes fail with EFBIG (reported, temporary removed) instead
        // of the signal killing the process with the temporary left behind.
        signal(SIGXFSZ, SIG_IGN)
        let interrupt = Interrupt.install()
        defer { interrupt.release() }
        do {
            let result = try await job.run(Terminal.events(quiet: quiet, protect: { interrupt.protect($0) }))
            interrupt.release()
            if !result.predictions.isEmpty {
                print(result.predictions.map { Predictions.line(path: $0.name, $0.top) }.joined(separator: "\n"))
            }
            if !quiet {
                note(
                    String(
                        format: "wrote %@: %d × %@ float32 (%d skipped), %.1f images/s",
                        result.record.output, result.summary.names.count,
                        result.rowShape.map(String.init).joined(separator: "×"),
                        result.summary.skipped.count, result.summary.imagesPerSecond))
            }
        } catch {
            throw fail(error)
        }
    }
}

/// Ctrl-C, SIGTERM or a closed terminal: the rows saved at the last checkpoint stay for the
/// same command to continue (or nothing, when none were saved yet); exit 130.
final class Interrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var progress: RunProgress?
    private var sources: [DispatchSourceSignal] = []

    static func install() -> Interrupt {
        let i = Interrupt()
        // A closed terminal (SIGHUP) is an interruption like Ctrl-C or a kill.
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [i] in
                i.lock.lock()
                let kept = i.progress?.leave()
                i.lock.unlock()
                FileHandle.standardError.write(
                    Data("\nextract: interrupted; \(kept ?? "nothing was written")\n".utf8))
                exit(130)
            }
            source.resume()
            i.sources.append(source)
        }
        return i
    }

    func protect(_ progress: RunProgress) {
        lock.lock()
        self.progress = progress
        lock.unlock()
    }

    func release() {
        lock.lock()
        progress = nil
        lock.unlock()
    }
}
