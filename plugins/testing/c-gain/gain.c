/*
 * A gain plugin written in C against include/auscult_plugin.h: what a
 * researcher writing a filter in C or C++ starts from. tests/c_plugin.rs
 * builds it with the system C compiler and loads it like the Rust plugins:
 *
 *   cc -std=c11 -shared -fPIC -I plugins/api/include \
 *      plugins/testing/c-gain/gain.c -o libc_gain.so -lm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "auscult_plugin.h"

enum { GAIN_DB = 0 };

typedef struct {
    double gain_db;
    float factor;
} Gain;

static const ParamDescriptor PARAMS[] = {
    {.id = GAIN_DB, .scale = PARAM_SCALE_LINEAR, .name = "gain_db", .unit = "dB", .min = -60.0, .max = 40.0, .default_ = 0.0},
};

/* Writes a NUL-terminated message into the host's buffer. */
static void say(ErrorBuf *err, const char *message) {
    if (err != NULL) {
        snprintf((char *)err->bytes, ERROR_BUF_SIZE, "%s", message);
    }
}

static int32_t create(double sample_rate, uint32_t max_block, Instance *out, ErrorBuf *err) {
    (void)max_block;
    if (!(sample_rate > 0.0)) {
        say(err, "sample rate must be above 0");
        return STATUS_INVALID_ARGUMENT;
    }
    Gain *g = malloc(sizeof *g);
    if (g == NULL) {
        say(err, "out of memory");
        return STATUS_ERROR;
    }
    g->gain_db = 0.0;
    g->factor = 1.0f;
    *out = g;
    return STATUS_OK;
}

static void destroy(Instance instance) { free(instance); }

static int32_t process(Instance instance, const float *input, float *output, uint32_t frames, EventBuffer *events, ErrorBuf *err) {
    (void)events;
    (void)err;
    const Gain *g = instance;
    for (uint32_t i = 0; i < frames; i++) {
        output[i] = input[i] * g->factor;
    }
    return STATUS_OK;
}

static int32_t set_param(Instance instance, uint32_t id, double value, ErrorBuf *err) {
    Gain *g = instance;
    if (id != GAIN_DB) {
        say(err, "unknown parameter");
        return STATUS_INVALID_ARGUMENT;
    }
    if (!(value >= PARAMS[0].min && value <= PARAMS[0].max)) {
        say(err, "gain_db must be within [-60, 40] dB");
        return STATUS_INVALID_ARGUMENT;
    }
    g->gain_db = value;
    g->factor = (float)pow(10.0, value / 20.0);
    return STATUS_OK;
}

static int32_t get_param(Instance instance, uint32_t id, double *value, ErrorBuf *err) {
    const Gain *g = instance;
    if (id != GAIN_DB) {
        say(err, "unknown parameter");
        return STATUS_INVALID_ARGUMENT;
    }
    *value = g->gain_db;
    return STATUS_OK;
}

static int32_t reset(Instance instance, ErrorBuf *err) {
    (void)instance;
    (void)err;
    return STATUS_OK;
}

static uint32_t latency(Instance instance) {
    (void)instance;
    return 0;
}

static const PluginDescriptor DESCRIPTOR = {
    .abi_version = {.major = 1, .minor = 0, .patch = 0},
    .struct_size = sizeof(PluginDescriptor),
    .param_struct_size = sizeof(ParamDescriptor),
    .id = "org.auscult.test.c-gain",
    .name = "Gain (C)",
    .version = "1.0.0",
    .description = "Gain in dB, written in C against auscult_plugin.h",
    .param_count = sizeof PARAMS / sizeof PARAMS[0],
    .params = PARAMS,
    .create = create,
    .destroy = destroy,
    .process = process,
    .set_param = set_param,
    .get_param = get_param,
    .reset = reset,
    .latency = latency,
    .get_extension = NULL,
};

const PluginDescriptor *auscult_plugin_entry(void) { return &DESCRIPTOR; }
