using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace TenantCrm.Chat;

/// <summary>
/// <c>POST /api/chat/{channel}/messages</c> (post a message) and <c>GET /api/chat/{channel}/messages</c> (the most
/// recent ones, oldest first), written with EF Core on <see cref="ChatContext"/>.
/// </summary>
internal static class ChatEndpoints
{
    public const int MaxChannelLength = 64;
    public const int MaxAuthorLength = 100;
    public const int MaxBodyLength = 2000;
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static void MapChat(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/chat/{channel}/messages", ListAsync);
        routes.MapPost("/chat/{channel}/messages", PostAsync);
    }

    private static async Task<IResult> ListAsync(ChatContext chat, string channel, string? limit, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var name = Channel(errors, channel);
        var take = errors.Number(nameof(limit), limit, DefaultLimit, 1, MaxLimit);
        if (!errors.IsEmpty)
        {
            return errors.ToResult();
        }

        var recent = await chat.Messages
            .AsNoTracking()
            .Where(m => m.Channel == name)
            .OrderByDescending(m => m.Id)
            .Take(take)
            .Select(m => new Message(m.Id, m.Author, m.Body, m.CreatedAt))
            .ToListAsync(ct);
        recent.Reverse();
        return TypedResults.Ok(new ChannelMessages(name, recent));
    }

    private static async Task<IResult> PostAsync(ChatContext chat, string channel, NewMessage request, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var message = new ChatMessage
        {
            Channel = Channel(errors, channel),
            Author = errors.Text("author", request.Author, MaxAuthorLength, required: true) ?? "",
            Body = Body(errors, request.Body),
            CreatedAt = DateTime.UtcNow,
        };
        if (!errors.IsEmpty)
        {
            return errors.ToResult();
        }

        chat.Messages.Add(message);
        await chat.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/chat/{message.Channel}/messages", new Message(message.Id, message.Author, message.Body, message.CreatedAt));
    }

    /// <summary>A channel name: 1 to 64 lowercase letters, digits, <c>-</c> and <c>_</c>.</summary>
    private static string Channel(ValidationErrors errors, string value)
    {
        if (value.Length is 0 or > MaxChannelLength || !value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_'))
        {
            errors.Add("channel", $"The channel must be 1 to {MaxChannelLength} lowercase letters, digits, - and _.");
        }

        return value;
    }

    /// <summary>The message text: required, at most 2000 characters; line breaks and tabs are the only control characters allowed.</summary>
    private static string Body(ValidationErrors errors, string? value)
    {
        var body = string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        if (body is null)
        {
            errors.Add("body", "The body is required.");
        }
        else if (body.Length > MaxBodyLength)
        {
            errors.Add("body", $"The body must be at most {MaxBodyLength} characters; it has {body.Length}.");
        }
        else if (body.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
        {
            errors.Add("body", "The body must not contain control characters other than line breaks and tabs.");
        }

        return body ?? "";
    }

    /// <summary>A message as the API shows it.</summary>
    internal sealed record Message(long Id, string Author, string Body, DateTime CreatedAt);

    /// <summary>The recent messages of a channel, oldest first.</summary>
    internal sealed record ChannelMessages(string Channel, IReadOnlyList<Message> Messages);

    /// <summary>The body of <c>POST /api/chat/{channel}/messages</c>.</summary>
    internal sealed record NewMessage(string? Author, string? Body);
}
