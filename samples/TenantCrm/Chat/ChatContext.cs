using System;
using Microsoft.EntityFrameworkCore;

namespace TenantCrm.Chat;

/// <summary>
/// The chat's EF Core context: one per request, for the request's tenant (see <c>AddTenantDbContext</c> in
/// Program.cs), on a connection leased from the runtime's budget only while EF Core has it open. The
/// <c>chat_messages</c> table is created in every tenant database by the seeder, like the other tables.
/// </summary>
internal sealed class ChatContext(DbContextOptions<ChatContext> options) : DbContext(options)
{
    public DbSet<ChatMessage> Messages => Set<ChatMessage>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<ChatMessage>(message =>
        {
            message.ToTable("chat_messages");
            message.HasKey(m => m.Id);
            message.Property(m => m.Id).HasColumnName("id");
            message.Property(m => m.Channel).HasColumnName("channel").HasMaxLength(ChatEndpoints.MaxChannelLength);
            message.Property(m => m.Author).HasColumnName("author").HasMaxLength(ChatEndpoints.MaxAuthorLength);
            message.Property(m => m.Body).HasColumnName("body").HasMaxLength(ChatEndpoints.MaxBodyLength);
            message.Property(m => m.CreatedAt).HasColumnName("created_at");
            message.HasIndex(m => new { m.Channel, m.Id });
        });
}

/// <summary>A message posted in a channel of a tenant's chat.</summary>
internal sealed class ChatMessage
{
    public long Id { get; set; }

    public string Channel { get; set; } = "";

    public string Author { get; set; } = "";

    public string Body { get; set; } = "";

    public DateTime CreatedAt { get; set; }
}
