// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "keras-features",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "HDF5", targets: ["HDF5"]),
        .library(name: "FeatureFiles", targets: ["FeatureFiles"]),
        .library(name: "Images", targets: ["Images"]),
        .library(name: "WeightLoader", targets: ["WeightLoader"]),
        .library(name: "Backbones", targets: ["Backbones"]),
        .library(name: "Features", targets: ["Features"]),
        .library(name: "Heads", targets: ["Heads"]),
        .library(name: "Reports", targets: ["Reports"]),
        .executable(name: "extract", targets: ["extract"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // libhdf5 through pkg-config `hdf5` (Debian: libhdf5-dev). The header shim exposes
        // the HDF5 macros Swift cannot import (H5T_NATIVE_FLOAT, H5P_DEFAULT, ...).
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        // OpenBLAS's CBLAS through pkg-config `openblas` (Debian: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Image codecs: libjpeg(-turbo), libpng and giflib as system libraries (Debian:
        // libjpeg62-turbo-dev, libpng-dev, libgif-dev; giflib has no pkg-config file).
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CGIF", providers: [.apt(["libgif-dev"])]),
        // C shims that catch libjpeg/libpng's longjmp errors (Swift cannot) and decode a whole
        // file from memory; see Sources/CImageCodecs/include/CImageCodecs.h.
        // The C files #include the headers rather than importing the modules, so the module maps'
        // `link` lines do not apply; libjpeg and libpng come from pkg-config, giflib is named here.
        .target(
            name: "CImageCodecs",
            dependencies: ["CJPEG", "CPNG", "CGIF"],
            linkerSettings: [.linkedLibrary("gif")]
        ),
        // Kernels with AVX2/FMA bodies chosen at run time (see Sources/CKernels/include/CKernels.h).
        // -O3 even in debug builds: the tests run whole backbones through them.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // The classifier's solvers: liblbfgs (Debian: liblbfgs-dev) for logistic regression,
        // LIBLINEAR (liblinear-dev), the library scikit-learn's LinearSVC wraps, for the SVM.
        .systemLibrary(name: "CLBFGS", pkgConfig: "liblbfgs", providers: [.apt(["liblbfgs-dev"])]),
        .systemLibrary(name: "CLinear", providers: [.apt(["liblinear-dev"])]),
        // faiss (Debian's libfaiss-dev: a static C++ library, OpenMP inside) behind a small C API.
        .target(
            name: "CFaiss",
            cxxSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("faiss"), .linkedLibrary("gomp"), .linkedLibrary("openblas")]),
        // The HTML report on a features file and its head: PCA (OpenBLAS, LAPACK), thumbnails.
        .target(name: "Reports", dependencies: ["Heads", "FeatureFiles", "Images", "COpenBLAS"]),
        // Classifiers on feature files (`extract fit`, `predict`): needs neither the network
        // nor the image codecs.
        .target(
            name: "Heads",
            dependencies: [
                "CFaiss", "CKernels", "CLBFGS", "CLinear", "COpenBLAS", "FeatureFiles", "HDF5",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .target(name: "Backbones", dependencies: ["COpenBLAS", "CKernels", "WeightLoader"]),
        // Images to features: decoding and resizing with PIL / load_img / tf.image.resize
        // semantics, preprocessing, dataset listing, the extraction loop.
        .target(name: "Features", dependencies: ["Backbones", "WeightLoader", "FeatureFiles", "Images"]),
        // Image files to RGB pixels and resized pixels: decoding (libjpeg, libpng, giflib, BMP),
        // EXIF orientation, PIL's and tf.image's resizing.
        .target(name: "Images", dependencies: ["CImageCodecs"]),
        // libhdf5 in Swift: reading (weights, feature files) and writing (feature files).
        .target(name: "HDF5", dependencies: ["CHDF5"]),
        // Feature files (.npy with its side files, .npz, .h5) written atomically and read back:
        // what a classifier needs, without the network or the image codecs.
        .target(
            name: "FeatureFiles",
            dependencies: ["HDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .target(
            name: "WeightLoader",
            dependencies: [
                "HDF5",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .executableTarget(
            name: "extract",
            dependencies: [
                "WeightLoader", "Backbones", "Features", "FeatureFiles", "Images", "Heads", "Reports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fixture paths and a runner for the built binary, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "WeightLoaderTests",
            dependencies: [
                "WeightLoader", "FeatureFiles", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ExtractTests", dependencies: ["extract", "Features", "FeatureFiles", "Images", "TestSupport"],
            exclude: ["Data"]),
        .testTarget(
            name: "BackbonesTests", dependencies: ["Backbones", "CKernels", "WeightLoader", "Features", "TestSupport"]),
        .testTarget(name: "FeaturesTests", dependencies: ["Features", "FeatureFiles", "WeightLoader", "TestSupport"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "TestSupport"]),
        .testTarget(name: "HeadsTests", dependencies: ["Heads", "Reports", "FeatureFiles", "CKernels", "TestSupport"]),
        // Depends on FeatureFiles alone: reading features needs neither the network nor the codecs.
        .testTarget(name: "FeatureFilesTests", dependencies: ["FeatureFiles"], exclude: ["Data"]),
    ]
)
