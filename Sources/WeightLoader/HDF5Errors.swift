import Foundation
import HDF5

extension WeightLoaderError {
    /// The HDF5 module's failure in the loader's words (with what to do about it).
    init(_ error: HDF5Error) {
        switch error {
        case .fileNotFound(let path): self = .fileNotFound(path: path)
        case .unreadable(let path): self = .unreadable(path: path)
        case .emptyFile(let path): self = .emptyFile(path: path)
        case .notHDF5(let path): self = .notHDF5(path: path)
        case .truncated(let path, let detail): self = .truncated(path: path, detail: detail)
        case .damaged(let path, let object, let detail): self = .damaged(path: path, object: object, detail: detail)
        case .unsupportedDType(let path, let dataset, let dtype):
            self = .unsupportedDType(path: path, dataset: dataset, dtype: dtype)
        case .unavailableFilter(let path, let dataset, let filter):
            self = .unavailableFilter(path: path, dataset: dataset, filter: filter)
        case .cannotCreate(let path): self = .writeFailed(path: path, reason: "HDF5 cannot create the file")
        case .writeFailed(let path, let object):
            self = .writeFailed(path: path, reason: "libhdf5 could not write \(object)")
        }
    }
}

/// Runs `body`, reporting HDF5 failures as `WeightLoaderError`s.
func readingHDF5<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as HDF5Error { throw WeightLoaderError(error) }
}
