// The CUDA C kernels of the GPU backend, one source compiled by NVRTC at run time
// (NVRTC.swift) for the device's architecture. Each kernel is commented against
// the math it computes; the CPU kernels of StrataTensor are the reference and the
// selftest checks each one against golden outputs made by them (1e-5 relative).
// Shape legend: B batch, T time, C channels, V vocab, H heads, D = C/H, N = B·T.
// All reductions are deterministic (fixed order, no float atomics), so a GPU run
// repeats itself bit for bit on the same device.
// Leaves out: tensor-core code of its own (matrix products are cuBLAS's), fused
// flash attention (scores are materialised, as on the CPU path).

public enum KernelSource {
    public static let name = "strata_kernels"

    public static let source = #"""
#define WARP 32
#define INFINITY __int_as_float(0x7f800000)   // NVRTC has no math.h
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}
// Sum over a block whose size is a multiple of 32 (≤ 1024); every thread gets the total.
__device__ float block_sum(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x % WARP, w = threadIdx.x / WARP, nw = blockDim.x / WARP;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    float t = lane < nw ? part[lane] : 0.f;
    return warp_sum(t);
}
__device__ float block_max(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x % WARP, w = threadIdx.x / WARP, nw = blockDim.x / WARP;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    float t = lane < nw ? part[lane] : -INFINITY;
    return warp_max(t);
}

// x[n, c] = wte[ids[n], c] + wpe[pos[n], c]                                  x: [N, C]
extern "C" __global__ void embed_fwd(float* x, const int* ids, const int* pos, const float* wte, const float* wpe, int N, int C) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)N * C) return;
    int n = i / C, c = i % C;
    x[i] = wte[(long)ids[n] * C + c] + wpe[(long)pos[n] * C + c];
}

// Deterministic scatter-add of rows: for each distinct table row u = keys[k], the rows of dx listed in
// rows[offsets[k] ..< offsets[k+1]] (in order) are summed and added to dtable[u].   one block per key
extern "C" __global__ void scatter_rows(float* dtable, const float* dx, const int* keys, const int* offsets, const int* rows, int K, int C) {
    int k = blockIdx.x;
    if (k >= K) return;
    int lo = offsets[k], hi = offsets[k + 1];
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.f;
        for (int r = lo; r < hi; r++) s += dx[(long)rows[r] * C + c];
        dtable[(long)keys[k] * C + c] += s;
    }
}

// LayerNorm, one warp per row:  μ = mean(x), σ² = mean((x-μ)²), rstd = 1/√(σ²+eps),  y = (x-μ)·rstd·w + b
extern "C" __global__ void layernorm_fwd(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                                         int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
    if (row >= N) return;
    const float* xr = x + (long)row * C;
    float s = 0.f;
    for (int c = lane; c < C; c += WARP) s += xr[c];
    float mu = warp_sum(s) / C;
    float v = 0.f;
    for (int c = lane; c < C; c += WARP) { float d = xr[c] - mu; v += d * d; }
    float rs = rsqrtf(warp_sum(v) / C + eps);
    float* yr = y + (long)row * C;
    for (int c = lane; c < C; c += WARP) yr[c] = (xr[c] - mu) * rs * w[c] + b[c];
    if (lane == 0) { mean[row] = mu; rstd[row] = rs; }
}

// LayerNorm backward for the input, one warp per row (x̂ = (x-μ)·rstd, g = dy·w):
//   dx += rstd · (g − mean(g) − x̂ · mean(g·x̂))
extern "C" __global__ void layernorm_bwd_dx(float* dx, const float* dy, const float* x, const float* mean, const float* rstd,
                                            const float* w, int N, int C) {
    int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
    if (row >= N) return;
    const float* xr = x + (long)row * C; const float* dyr = dy + (long)row * C;
    float mu = mean[row], rs = rstd[row], sg = 0.f, sgx = 0.f;
    for (int c = lane; c < C; c += WARP) { float g = dyr[c] * w[c]; sg += g; sgx += g * (xr[c] - mu) * rs; }
    sg = warp_sum(sg) / C; sgx = warp_sum(sgx) / C;
    float* dxr = dx + (long)row * C;
    for (int c = lane; c < C; c += WARP) {
        float xh = (xr[c] - mu) * rs;
        dxr[c] += rs * (dyr[c] * w[c] - sg - xh * sgx);
    }
}

// Column sums over rows in two deterministic passes. Pass 1, grid (⌈C/32⌉, chunks), block (32, 32):
// chunk k sums rows [k·R, (k+1)·R) —  pw[k, c] = Σ dy[n,c]·x̂[n,c],  pb[k, c] = Σ dy[n,c]  (x == 0: pb only).
extern "C" __global__ void colsum_partial(float* pw, float* pb, const float* dy, const float* x, const float* mean,
                                          const float* rstd, int N, int C, int R) {
    __shared__ float sw[32][33], sb[32][33];
    int c = blockIdx.x * 32 + threadIdx.x, k = blockIdx.y;
    int lo = k * R, hi = min(N, lo + R);
    float aw = 0.f, ab = 0.f;
    if (c < C) {
        for (int n = lo + threadIdx.y; n < hi; n += 32) {
            float g = dy[(long)n * C + c];
            ab += g;
            if (x) aw += g * (x[(long)n * C + c] - mean[n]) * rstd[n];
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw; sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float tw = 0.f, tb = 0.f;
        for (int j = 0; j < 32; j++) { tw += sw[j][threadIdx.x]; tb += sb[j][threadIdx.x]; }
        if (x) pw[(long)k * C + c] = tw;
        pb[(long)k * C + c] = tb;
    }
}

// Pass 2: dw[c] += Σ_k pw[k, c] (when dw is given), db[c] += Σ_k pb[k, c], chunks in order.
extern "C" __global__ void colsum_finish(float* dw, float* db, const float* pw, const float* pb, int chunks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float tw = 0.f, tb = 0.f;
    for (int k = 0; k < chunks; k++) { if (dw) tw += pw[(long)k * C + c]; tb += pb[(long)k * C + c]; }
    if (dw) dw[c] += tw;
    db[c] += tb;
}

// y[n, c] += b[c]                                                                    y: [N, C]
extern "C" __global__ void add_bias(float* y, const float* b, int N, int C) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (long)N * C) y[i] += b[i % C];
}

// y = a + b (elementwise); y may alias a
extern "C" __global__ void add(float* y, const float* a, const float* b, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a[i] + b[i];
}

// GELU, tanh form: y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)
extern "C" __global__ void gelu_fwd(float* y, const float* x, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i], u = 0.79788456f * (v + 0.044715f * v * v * v);
    y[i] = 0.5f * v * (1.f + tanhf(u));
}

// dx = dy · (½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
extern "C" __global__ void gelu_bwd(float* dx, const float* x, const float* dy, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i], u = 0.79788456f * (v + 0.044715f * v * v * v), th = tanhf(u);
    float du = 0.79788456f * (1.f + 3.f * 0.044715f * v * v);
    dx[i] = dy[i] * (0.5f * (1.f + th) + 0.5f * v * (1.f - th * th) * du);
}

// Causal softmax over scores S [B·H·T, T] (row r: b = r / (H·T), i = r mod T), one warp per row:
//   P[r, j] = exp(scale·S[r,j] − m) / Σ  for lo ≤ j ≤ i (lo = docStart[b·T+i] or 0), 0 elsewhere.
extern "C" __global__ void causal_softmax(float* P, const float* S, const int* docStart, int rows, int T, int H, float scale) {
    int r = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
    if (r >= rows) return;
    int i = r % T, b = r / (H * T);
    int lo = docStart ? docStart[b * T + i] : 0;
    const float* s = S + (long)r * T; float* p = P + (long)r * T;
    float m = -INFINITY;
    for (int j = lo + lane; j <= i; j += WARP) m = fmaxf(m, s[j]);
    m = warp_max(m) * scale;
    float z = 0.f;
    for (int j = lo + lane; j <= i; j += WARP) z += expf(s[j] * scale - m);
    z = warp_sum(z);
    for (int j = lane; j < T; j += WARP) p[j] = (j >= lo && j <= i) ? expf(s[j] * scale - m) / z : 0.f;
}

// Softmax backward with the score scale folded in, one warp per row: dS = scale · P ⊙ (dP − Σ_j dP·P)
extern "C" __global__ void softmax_bwd(float* dS, const float* P, const float* dP, int rows, int T, float scale) {
    int r = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
    if (r >= rows) return;
    const float* p = P + (long)r * T; const float* g = dP + (long)r * T; float* d = dS + (long)r * T;
    float dot = 0.f;
    for (int j = lane; j < T; j += WARP) dot += g[j] * p[j];
    dot = warp_sum(dot);
    for (int j = lane; j < T; j += WARP) d[j] = scale * p[j] * (g[j] - dot);
}

// Cross-entropy and its gradient in one pass, one block per row of logits [N, V]:
//   loss[n] = logsumexp(z_n) − z_n[y_n];   z_n ← k·(softmax(z_n) − onehot(y_n))  (in place), k = 1/normalizer.
// Rows whose target is ignore (-100) give loss 0 and gradient 0.
extern "C" __global__ void cross_entropy(float* losses, float* logits, const int* targets, int N, int V, float k) {
    int n = blockIdx.x;
    if (n >= N) return;
    float* z = logits + (long)n * V;
    int y = targets[n];
    if (y < 0) {
        for (int j = threadIdx.x; j < V; j += blockDim.x) z[j] = 0.f;
        if (threadIdx.x == 0) losses[n] = 0.f;
        return;
    }
    float m = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, z[j]);
    m = block_max(m);
    float s = 0.f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += expf(z[j] - m);
    s = block_sum(s);
    float lse = m + logf(s), zy = z[y];
    __syncthreads();
    for (int j = threadIdx.x; j < V; j += blockDim.x) z[j] = k * (expf(z[j] - lse) - (j == y ? 1.f : 0.f));
    if (threadIdx.x == 0) losses[n] = lse - zy;
}

// Partial sums of squares: part[block] = Σ x² over the block's grid-stride share (host adds the parts in double).
extern "C" __global__ void sum_squares(float* part, const float* x, long n) {
    float s = 0.f;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) s += x[i] * x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// AdamW as torch computes it, with the clip coefficient applied to the gradient first (g ← g·clip):
//   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p·decay − stepSize · m / (√v / bc2 + eps)
// where decay = 1 − lr·wd (or 1), stepSize = lr / (1 − β1^t), bc2 = √(1 − β2^t).
extern "C" __global__ void adamw(float* p, float* g, float* m, float* v, long n, float clip, float b1, float b2, float eps,
                                 float decay, float stepSize, float bc2) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i] * clip;
    g[i] = gi;
    float mi = b1 * m[i] + (1.f - b1) * gi;
    float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi; v[i] = vi;
    p[i] = p[i] * decay - stepSize * mi / (sqrtf(vi) / bc2 + eps);
}

// fp32 → bf16 (round to nearest even), for bf16 matrix products' operands.
extern "C" __global__ void to_bf16(unsigned short* y, const float* x, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned int u = __float_as_uint(x[i]);
    if ((u & 0x7f800000u) == 0x7f800000u) { y[i] = (unsigned short)(u >> 16) | ((u & 0xffffu) ? 0x40 : 0); return; }
    u += 0x7fffu + ((u >> 16) & 1u);
    y[i] = (unsigned short)(u >> 16);
}
"""#

    /// Every kernel entry point in `source` (the selftest and the NVRTC test check each is present).
    public static let kernels = ["embed_fwd", "scatter_rows", "layernorm_fwd", "layernorm_bwd_dx", "colsum_partial", "colsum_finish", "add_bias", "add",
                                 "gelu_fwd", "gelu_bwd", "causal_softmax", "softmax_bwd", "cross_entropy", "sum_squares", "adamw", "to_bf16"]
}
