// A C face for the one part of OpenCV's DNN module PlateKeeper uses: load an ONNX network and
// run it on a one-channel float image. OpenCV's API is C++, which Swift cannot call directly;
// this shim catches every C++ exception and returns it as a message.
#ifndef PLATEKEEPER_COPENCVDNN_H
#define PLATEKEEPER_COPENCVDNN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opaque cv::dnn::Net.
typedef struct pk_dnn_net pk_dnn_net;

/// Loads an ONNX model (cv::dnn::readNetFromONNX) for the CPU backend. On failure returns NULL
/// and writes OpenCV's message, cut to `error_size`, into `error`.
pk_dnn_net *pk_dnn_load_onnx(const char *path, char *error, size_t error_size);

/// Frees a network from pk_dnn_load_onnx (NULL is allowed).
void pk_dnn_free(pk_dnn_net *net);

/// Runs the network on one 1×1×height×width image (row-major floats). Its first output must be
/// 1×C×H×W with C×H×W ≤ `capacity`: it is copied to `output` and its sizes to `channels`,
/// `out_height`, `out_width`. Returns 0, or -1 with OpenCV's message in `error`.
int pk_dnn_forward(pk_dnn_net *net, const float *input, int height, int width,
                   float *output, size_t capacity, int *channels, int *out_height, int *out_width,
                   char *error, size_t error_size);

/// Sets OpenCV's worker threads for the whole process (cv::setNumThreads).
void pk_dnn_set_threads(int count);

#ifdef __cplusplus
}
#endif

#endif
