// loss.cl — GAN objective terms on logits: per-example loss and scaled gradient.
//
// objective: on elements offset ..< offset + count of logits, losses and gradients; one
// work-item per logit, global = count.
//   losses[i]    = l(logits[i])
//   gradients[i] = gradient_scale * dl/dx (logits[i])
// Objective codes (ComputeBackend.LogitObjective.kernelCode) and their parameter p:
//   0 cross-entropy, p = target:  l = softplus(x) - p*x,  dl/dx = sigmoid(x) - p
//   1 Wasserstein,   p = sign:    l = p*x,                dl/dx = p
//   2 hinge,         p = sign:    l = max(0, 1 - p*x),    dl/dx = -p where 1 - p*x > 0
//   3 least squares, p = target:  l = (x - p)^2 / 2,      dl/dx = x - p
// softplus is max(x, 0) + log1p(exp(-|x|)): no overflow for any finite x; sigmoid_stable
// is activation.cl's.

#pragma OPENCL FP_CONTRACT OFF

__kernel void objective(__global const float* logits, __global float* losses,
                        __global float* gradients, const int offset, const int count,
                        const int kind, const float p, const float gradient_scale)
{
    if ((int)get_global_id(0) >= count) return;
    const int i = offset + get_global_id(0);
    const float x = logits[i];
    float loss, grad;
    switch (kind) {
        case 0:
            loss = (x > 0.0f ? x : 0.0f) - p * x + log1p(exp(-fabs(x)));
            grad = sigmoid_stable(x) - p;
            break;
        case 1:
            loss = p * x;
            grad = p;
            break;
        case 2: {
            const float margin = 1.0f - p * x;
            loss = margin > 0.0f ? margin : 0.0f;
            grad = margin > 0.0f ? -p : 0.0f;
            break;
        }
        default: {
            const float d = x - p;
            loss = d * d / 2.0f;
            grad = d;
            break;
        }
    }
    losses[i] = loss;
    gradients[i] = grad * gradient_scale;
}

// Softmax cross-entropy, one work-item per row; global = rows.
//   logits, gradients are (rows, classes); labels, losses are (rows).
//   losses[r]       = log sum_c exp(z[r,c]) - z[r, label]   (label = (int)labels[r])
//   gradients[r, c] = gradient_scale * (softmax(z_r)[c] - (c == label))
// A label outside [0, classes) leaves only the log-sum-exp term.
__kernel void softmax_cross_entropy(__global const float* logits, __global const float* labels,
                                    __global float* losses, __global float* gradients,
                                    const int rows, const int classes, const float gradient_scale)
{
    const int r = get_global_id(0);
    if (r >= rows) return;
    __global const float* z = logits + (size_t)r * classes;
    __global float* g = gradients + (size_t)r * classes;
    float top = z[0];
    for (int c = 1; c < classes; ++c) top = fmax(top, z[c]);
    float total = 0.0f;
    for (int c = 0; c < classes; ++c) total += exp(z[c] - top);
    const float log_sum = top + log(total);
    const float label_value = labels[r];
    const int label = (label_value >= 0.0f && label_value < (float)classes) ? (int)label_value : -1;
    for (int c = 0; c < classes; ++c) {
        g[c] = gradient_scale * (exp(z[c] - log_sum) - (c == label ? 1.0f : 0.0f));
    }
    losses[r] = label >= 0 ? log_sum - z[label] : log_sum;
}

// A tabular generator's output head: one work-item per (row, span); global = rows * span_count.
// spans holds (start, count, kind) as floats: kind 0 applies tanh to each column, kind 1
// the softmax of the span's columns divided by temperature. A span outside the row is
// clipped to it (the host keeps them inside; this keeps a bad table from reading past x).
// The work-item's row and span (start, count, kind); 0 when it has nothing to do.
inline int span_of(__global const float* spans, const int rows, const int columns, const int span_count,
                   int* r, int* start, int* count, int* soft)
{
    const int i = get_global_id(0);
    if (i >= rows * span_count) return 0;
    *r = i / span_count;
    const int s = i % span_count;
    const float first = spans[3 * s], width = spans[3 * s + 1];
    *start = (first >= 0.0f && first <= (float)columns) ? (int)first : (first > 0.0f ? columns : 0);
    *count = (width >= 0.0f && width <= (float)(columns - *start)) ? (int)width : (width > 0.0f ? columns - *start : 0);
    *soft = spans[3 * s + 2] != 0.0f;
    return *count > 0;
}

__kernel void span_activation(__global const float* x, __global const float* spans, __global float* y,
                              const int rows, const int columns, const int span_count, const float temperature)
{
    int r, start, count, soft;
    if (!span_of(spans, rows, columns, span_count, &r, &start, &count, &soft)) return;
    __global const float* in = x + (size_t)r * columns + start;
    __global float* out = y + (size_t)r * columns + start;
    if (!soft) {
        for (int c = 0; c < count; ++c) out[c] = tanh(in[c]);
        return;
    }
    float top = in[0] / temperature;
    for (int c = 0; c < count; ++c) top = fmax(top, in[c] / temperature);
    // exp twice rather than reading y back: the same values, and nothing read from y.
    float total = 0.0f;
    for (int c = 0; c < count; ++c) total += exp(in[c] / temperature - top);
    for (int c = 0; c < count; ++c) out[c] = exp(in[c] / temperature - top) / total;
}

__kernel void span_activation_backward(__global const float* y, __global const float* dy, __global const float* spans,
                                       __global float* dx, const int rows, const int columns, const int span_count,
                                       const float temperature)
{
    int r, start, count, soft;
    if (!span_of(spans, rows, columns, span_count, &r, &start, &count, &soft)) return;
    const size_t base = (size_t)r * columns + start;
    if (!soft) {
        for (int c = 0; c < count; ++c) dx[base + c] = dy[base + c] * (1.0f - y[base + c] * y[base + c]);
        return;
    }
    float dot = 0.0f;
    for (int c = 0; c < count; ++c) dot += y[base + c] * dy[base + c];
    for (int c = 0; c < count; ++c) dx[base + c] = y[base + c] * (dy[base + c] - dot) / temperature;
}
