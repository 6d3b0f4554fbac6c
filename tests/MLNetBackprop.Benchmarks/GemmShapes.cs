namespace MLNetBackprop.Benchmarks;

/// <summary>One GEMM problem: C[m×n] = op(A)·op(B) with op(B) of size k×n.</summary>
public sealed record GemmShape(string Name, bool TransA, bool TransB, int M, int N, int K)
{
    /// <summary>Floating-point operations of one product (a multiply and an add per term).</summary>
    public double Flops => 2.0 * M * N * K;

    /// <summary>Compact id (BenchmarkDotNet truncates long parameter values): NT 64x128x784 = op(A) plain, op(B) transposed, m×n×k.</summary>
    public string Id => $"{(TransA ? 'T' : 'N')}{(TransB ? 'T' : 'N')} {M}x{N}x{K}";

    /// <inheritdoc />
    public override string ToString() => Id;

    /// <summary>The products the training loop runs (batch 64 unless noted), plus prediction and the OpenBLAS reference shape.</summary>
    public static readonly GemmShape[] Training =
    [
        new("fwd (64x784)(128x784)T", false, true, 64, 128, 784),
        new("fwd (64x128)(10x128)T", false, true, 64, 10, 128),
        new("fwd (128x784)(256x784)T", false, true, 128, 256, 784),
        new("fwd (8000x784)(64x784)T", false, true, 8000, 64, 784),
        new("dW (64x128)T(64x784)", true, false, 128, 784, 64),
        new("dW (64x10)T(64x128)", true, false, 10, 128, 64),
        new("delta (64x10)(10x128)", false, false, 64, 128, 10),
        new("delta (64x128)(128x784)", false, false, 64, 784, 128),
        new("NN (64x784)(784x128) OpenBLAS:166-184", false, false, 64, 128, 784),
        new("predict (1x784)(128x784)T", false, true, 1, 128, 784),
    ];
}
