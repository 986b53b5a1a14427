// The extraction a run record describes, run again on other images: the same weights file,
// input size, image reading, preprocessing, layer and pooling, so the rows are the same kind of
// features (`extract classify` on new images with a head fitted on the recorded ones).

import Backbones
import Foundation
import Images

extension ExtractionJob {
    /// The job `record` ran, on `inputs`, written to `output`. Nothing is downloaded: the
    /// weights are the file the record names (the Keras cache's copy for a published model).
    public init(repeating record: RunRecord, inputs: [String], output: String, threads: Int) throws {
        func setting<T>(_ value: T?, _ what: String, _ raw: String) throws -> T {
            guard let value else {
                throw RunRecordError.malformed(
                    RunRecord.path(forOutput: record.output), reason: "unknown \(what) '\(raw)'")
            }
            return value
        }
        guard record.input.size.count == 2 else {
            throw RunRecordError.malformed(
                RunRecord.path(forOutput: record.output), reason: "input size \(record.input.size)")
        }
        let size = InputSize(height: record.input.size[0], width: record.input.size[1])
        // A weights path given relative to where the recorded run was started.
        let weights = URL(
            fileURLWithPath: record.model.weightsFile,
            relativeTo: URL(fileURLWithPath: record.workingDirectory, isDirectory: true)
        ).standardizedFileURL.path
        let request = ModelRequest(
            includeTop: record.includeTop, weightsPath: weights, inputSize: size,
            backboneOnly: record.model.wholeModel == nil && record.model.nestedIn != nil)
        self.init(
            inputs: inputs, output: output, model: request, download: false,
            pooling: try setting(GlobalPooling(rawValue: record.pooling), "pooling", record.pooling),
            layer: record.layer, flatten: record.flattened,
            image: ImageSettings(
                interpolation: try setting(
                    Interpolation(rawValue: record.input.interpolation), "interpolation", record.input.interpolation),
                keepAspectRatio: record.input.keepAspectRatio,
                resize: try setting(ResizeMethod(rawValue: record.input.resize), "resize", record.input.resize),
                exifTranspose: record.input.exifTranspose, fastDecode: record.input.fastDecode),
            preprocess: try setting(
                PreprocessMode(rawValue: record.input.preprocessing), "preprocessing", record.input.preprocessing),
            threads: threads)
    }
}
