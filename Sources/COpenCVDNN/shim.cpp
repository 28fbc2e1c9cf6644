// The C shim over cv::dnn (see include/COpenCVDNN.h). No logic beyond calling OpenCV and
// turning its exceptions into messages.
#include "COpenCVDNN.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <cstring>
#include <exception>
#include <string>

struct pk_dnn_net {
    cv::dnn::Net net;
};

static void put_error(const char *message, char *error, size_t error_size) {
    if (error == nullptr || error_size == 0) return;
    std::strncpy(error, message, error_size - 1);
    error[error_size - 1] = '\0';
}

pk_dnn_net *pk_dnn_load_onnx(const char *path, char *error, size_t error_size) {
    try {
        auto *handle = new pk_dnn_net{cv::dnn::readNetFromONNX(path)};
        if (handle->net.empty()) {
            delete handle;
            put_error("readNetFromONNX returned an empty network", error, error_size);
            return nullptr;
        }
        handle->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        handle->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return handle;
    } catch (const std::exception &e) {
        put_error(e.what(), error, error_size);
        return nullptr;
    } catch (...) {
        put_error("unknown C++ exception", error, error_size);
        return nullptr;
    }
}

void pk_dnn_free(pk_dnn_net *net) { delete net; }

int pk_dnn_forward(pk_dnn_net *net, const float *input, int height, int width,
                   float *output, size_t capacity, int *channels, int *out_height, int *out_width,
                   char *error, size_t error_size) {
    try {
        int shape[4] = {1, 1, height, width};
        // A header over the caller's buffer: no copy; setInput copies it into the network.
        cv::Mat blob(4, shape, CV_32F, const_cast<float *>(input));
        net->net.setInput(blob);
        cv::Mat out = net->net.forward();
        if (out.dims != 4 || out.size[0] != 1 || out.type() != CV_32F) {
            put_error("the network's output is not 1×C×H×W floats", error, error_size);
            return -1;
        }
        size_t count = (size_t)out.size[1] * (size_t)out.size[2] * (size_t)out.size[3];
        if (count > capacity) {
            put_error("the network's output is larger than the buffer", error, error_size);
            return -1;
        }
        if (!out.isContinuous()) out = out.clone();
        std::memcpy(output, out.ptr<float>(), count * sizeof(float));
        *channels = out.size[1];
        *out_height = out.size[2];
        *out_width = out.size[3];
        return 0;
    } catch (const std::exception &e) {
        put_error(e.what(), error, error_size);
        return -1;
    } catch (...) {
        put_error("unknown C++ exception", error, error_size);
        return -1;
    }
}

void pk_dnn_set_threads(int count) { cv::setNumThreads(count); }
