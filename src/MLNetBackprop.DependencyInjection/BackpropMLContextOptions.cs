namespace MLNetBackprop.DependencyInjection;

/// <summary>Settings of the <see cref="Microsoft.ML.MLContext"/> singleton registered by <c>AddBackprop</c>.</summary>
public sealed class BackpropMLContextOptions
{
    /// <summary>The MLContext's seed; null for a random seed (ML.NET's default). Set it for reproducible training.</summary>
    public int? Seed { get; set; }
}
