import Foundation

/// What can be wrong with an HDF5 file we read or write. Callers with their own error type
/// (WeightLoaderError, OutputError) translate these cases into their own words.
public enum HDF5Error: Error, Equatable, LocalizedError, CustomStringConvertible {
    case fileNotFound(path: String)
    case unreadable(path: String)
    case emptyFile(path: String)
    case notHDF5(path: String)
    case truncated(path: String, detail: String)
    case damaged(path: String, object: String, detail: String)
    case unsupportedDType(path: String, dataset: String, dtype: String)
    /// The dataset is compressed with a filter this libhdf5 lacks (h5py's own lzf, a plugin).
    case unavailableFilter(path: String, dataset: String, filter: String)
    /// libhdf5 could not create the file (H5Fcreate failed).
    case cannotCreate(path: String)
    /// libhdf5 refused a dataset, a write or the final flush of a file being written.
    case writeFailed(path: String, object: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such file"
        case .unreadable(let path): return "\(path): permission denied"
        case .emptyFile(let path): return "\(path): the file is empty (0 bytes)"
        case .notHDF5(let path): return "\(path): not an HDF5 file"
        case .truncated(let path, let detail): return "\(path): the HDF5 file is truncated or damaged (\(detail))"
        case .damaged(let path, let object, let detail): return "\(path): damaged HDF5 object \(object): \(detail)"
        case .unsupportedDType(let path, let dataset, let dtype):
            return "\(path): dataset \(dataset) has unsupported type \(dtype)"
        case .unavailableFilter(let path, let dataset, let filter):
            return "\(path): dataset \(dataset) is compressed with the \(filter) filter, which libhdf5 does not include"
        case .cannotCreate(let path): return "\(path): HDF5 cannot create the file"
        case .writeFailed(let path, let object): return "\(path): libhdf5 could not write \(object)"
        }
    }

    public var errorDescription: String? { description }
}
