# The Pixelfind FAISS addon. faiss-config.mjs picks the library: the AVX2 build that
# infra/scripts/build-faiss.sh caches outside the repo, else Debian's generic libfaiss.
{
  "targets": [
    {
      "target_name": "pixelfind_faiss",
      "sources": [
        "src/addon.cc",
        "src/build-info.cc",
        "src/common.cc",
        "src/index-object.cc",
        "src/create.cc",
        "src/train.cc",
        "src/add.cc",
        "src/remove.cc",
        "src/search.cc",
        "src/write.cc",
        "src/read.cc",
        "src/threads.cc",
        "src/vector-file.cc",
        "src/rescore.cc",
        "src/score-rows.cc",
        "src/score-cells.cc",
        "src/inner-products.cc",
        "src/live-rows.cc",
        "src/map-bytes.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node faiss-config.mjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-fopenmp", "-O3", "<!@(node faiss-config.mjs cflags)"],
      "ldflags": ["-fopenmp"],
      "libraries": ["<!@(node faiss-config.mjs libs)", "-lopenblas", "-llapack", "-lgomp"]
    }
  ]
}
