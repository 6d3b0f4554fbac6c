namespace MLNetBackprop.Distributed;

/// <summary>
/// A collective operation between the ranks failed: a peer sent nothing within the timeout (it died, hangs or is far
/// slower), or MPI reported an error talking to it. Training cannot go on with a rank missing, so every rank stops;
/// the message names both ranks and the operation.
/// </summary>
public sealed class DistributedTrainingException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, naming the ranks and the operation.</param>
    /// <param name="rank">The rank that observed the failure (this process).</param>
    /// <param name="peerRank">The rank it was waiting for or talking to.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public DistributedTrainingException(string message, int rank, int peerRank, Exception? innerException = null)
        : base(message, innerException)
    {
        Rank = rank;
        PeerRank = peerRank;
    }

    /// <summary>The rank that observed the failure (this process).</summary>
    public int Rank { get; }

    /// <summary>The rank this process was waiting for or talking to when it failed.</summary>
    public int PeerRank { get; }
}
