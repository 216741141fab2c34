"""Check-in: a location message becomes a recorded visit; photos and check-out follow."""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bootstrap import metrics
from bot.callbacks import (
    AttachPhoto,
    CheckOutVisit,
    ChooseCustomer,
    ChooseDeal,
    DiscardPhoto,
    LeaveUnassigned,
)
from bot.context import CrmContext
from bot.handlers.gate import private_press
from bot.i18n import N_, Translator
from bot.images import sent_image
from bot.keyboards import ButtonHandler, private_chat_link
from bot.texts import refusal
from bot.timefmt import local_datetime
from core.domain.errors import DomainError
from core.domain.schedule.checkins import CheckIn, SharedLocation, TrustFlag
from core.schedule.checkins import CheckInResult, CheckOut, DealChoice, PhotoResult

# What a rep is told about a check-in or its photos, where it differs from REFUSALS.
# Every press is untrusted: the service re-checks owner, state and what was offered.
CHECK_IN_REFUSALS = {
    "location_forwarded": N_(
        "A forwarded location is not a check-in: it shows where someone else was, at "
        "another time. Nothing was recorded. Please share your own location with the "
        "📍 Check in button."),
    "location_impossible": N_(
        "This location is not a place on Earth, so nothing was recorded. Please share your "
        "location again with the 📍 Check in button."),
    "photo_too_big": N_("This file is larger than 20 MB, so I cannot take it. "
                        "Please send a smaller photo."),
    "photo_too_many_pixels": N_("This picture is too large for me to open (too many "
                                "pixels). Please send it as a photo rather than as a file."),
    "not_an_image": N_("This file is not a photo. Please send a JPEG or PNG image."),
    "corrupt_image": N_("I could not open this image: the file seems damaged. "
                        "Please send it again."),
    "photo_already_attached": N_("This photo is already attached to this visit."),
    "nothing_to_check_out": N_("You have no open visit to check out of."),
    "check_in_closed": N_("That visit is already closed."),
    "check_in_not_found": N_("That button is no longer valid."),
    "customer_not_offered": N_("That customer was not offered for this check-in."),
    "no_check_in_today": N_("You have not checked in today, so there is nothing to "
                            "attach the photo to."),
    "photo_not_found": N_("That button is no longer valid."),
    "check_in_assigned": N_("This check-in is already assigned to a customer."),
    "opp_not_found": N_("That button is no longer valid."),
    "opp_closed": N_("That opportunity is closed, so nothing was linked to it."),
}

FLAG_LINES = {
    TrustFlag.STALE: N_("⚠️ This location was sent more than {seconds} seconds ago, so it "
                        "does not count as a verified visit."),
    TrustFlag.MAP_PICKED: N_("⚠️ This location was picked on the map, so it does not count "
                             "as a verified visit."),
    TrustFlag.LOW_ACCURACY: N_("⚠️ Your phone placed you only within {accuracy} m, so this "
                               "check-in is marked as imprecise."),
    TrustFlag.OUTSIDE_GEOFENCE: N_("⚠️ You are not at a customer's site, so this does not "
                                   "count as a verified visit."),
    TrustFlag.REUSED_PHOTO: N_("⚠️ A photo of this visit looks like one used for an earlier "
                               "visit, so it does not count as a verified visit."),
    TrustFlag.EXIF_MISMATCH: N_("⚠️ A photo of this visit says it was taken at another time "
                                "or place, so it does not count as a verified visit."),
}
# Shown in place of the invitation to send a photo while the required one is missing.
PHOTO_REQUIRED = N_("📷 A photo of the visit is required: please send it now. Until it "
                    "arrives, this visit does not count as verified.")
DEAL_TITLE_CHARS = 24  # a button stays readable on a phone


def say_refusal(t: Translator, error: DomainError) -> str:
    return refusal(t, error, CHECK_IN_REFUSALS)


def distance(t: Translator, metres: float) -> str:
    if metres < 1000:
        return t("{metres} m", metres=round(metres))
    return t("{km} km", km=format(metres / 1000, ".1f"))


def duration(t: Translator, span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return t("{minutes} min", minutes=minutes)
    return t("{hours} h {minutes} min", hours=minutes // 60, minutes=minutes % 60)


def flag_lines(t: Translator, check_in: CheckIn, max_age_seconds: int) -> list[str]:
    order = [TrustFlag.STALE, TrustFlag.MAP_PICKED, TrustFlag.LOW_ACCURACY,
             TrustFlag.OUTSIDE_GEOFENCE, TrustFlag.REUSED_PHOTO, TrustFlag.EXIF_MISMATCH]
    return [t(FLAG_LINES[f], seconds=max_age_seconds, accuracy=round(check_in.accuracy_m or 0))
            for f in order if f in check_in.flags]


def deal_button(t: Translator, record: CheckIn, deal: DealChoice) -> InlineKeyboardButton:
    title = deal.title if len(deal.title) <= DEAL_TITLE_CHARS else \
        deal.title[:DEAL_TITLE_CHARS - 1] + "…"
    return InlineKeyboardButton(
        f"🤝 {deal.customer.name} · {title} · {distance(t, deal.distance_m)}",
        callback_data=ChooseDeal(record.id, deal.opportunity_id).encode())


def check_in_screen(t: Translator, result: CheckInResult, timezone: str,
                    max_age_seconds: int) -> tuple[str, InlineKeyboardMarkup]:
    """What was recorded, in plain words, with the customer choices and Check out."""
    record = result.check_in
    when = local_datetime(record.at, timezone)
    if result.customer is not None:
        lines = [t("📍 Checked in at {customer} ({distance} from the site), {time}.",
                   customer=result.customer.name,
                   distance=distance(t, record.distance_m or 0), time=when)]
    elif result.nearest is not None:
        lines = [t("📍 Check-in recorded at {time}, not at any customer: the nearest is "
                   "{customer}, {distance} away.", time=when,
                   customer=result.nearest.customer.name,
                   distance=distance(t, result.nearest.distance_m))]
    else:
        lines = [t("📍 Check-in recorded at {time}. There is no customer within 50 km.",
                   time=when)]
    if result.deal is not None:
        lines.append(t("🤝 For the opportunity “{title}”.", title=result.deal))
    lines += flag_lines(t, record, max_age_seconds)
    if record.verified:
        lines.append(t("✅ Verified visit."))
    if record.is_live:
        lines.append(t("Your live location measures the visit while you share it."))
    rows = []
    if result.choices:
        inside = any(m.inside for m in result.choices)
        lines.append(t("Several customers are here. Which one are you visiting?") if inside
                     else t("Which customer is this visit for?"))
        rows = [[InlineKeyboardButton(
            f"{m.customer.name} · {distance(t, m.distance_m)}",
            callback_data=ChooseCustomer(record.id, m.customer.id).encode())]
            for m in result.choices]
    elif result.deals:
        lines.append(t("Is this visit for one of your opportunities?"))
    rows += [[deal_button(t, record, d)] for d in result.deals]
    if result.customer is None and result.must_choose:
        rows.append([InlineKeyboardButton(t("Leave unassigned"),
                                          callback_data=LeaveUnassigned(record.id).encode())])
    lines.append(t(PHOTO_REQUIRED) if TrustFlag.NO_PHOTO in record.flags
                 else t("You can send a photo of the visit now."))
    rows.append([InlineKeyboardButton(t("Check out"), callback_data=CheckOutVisit().encode())])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _shared_location(message: Message) -> SharedLocation:
    location = message.location
    # As sent (seconds); the attribute warns while PTB moves it to a timedelta.
    live_period = location.to_dict().get("live_period")
    return SharedLocation(
        lat=location.latitude, lon=location.longitude, sent_at=message.date,
        horizontal_accuracy=location.horizontal_accuracy,
        live_period=None if live_period is None else int(live_period),
        forwarded=message.forward_origin is not None, venue=message.venue is not None)


async def on_location(update: Update, context: CrmContext) -> None:
    """A location in the private chat (the 📍 Check in button sends one): check in."""
    message, t = update.effective_message, context.t
    try:
        result = await context.services.check_ins.check_in(
            update.effective_user.id, _shared_location(message),
            chat_id=message.chat_id, message_id=message.message_id)
    except DomainError as error:
        await message.reply_text(refusal(t, error, CHECK_IN_REFUSALS))
        return
    metrics.checked_in(flagged=bool(result.check_in.flags))
    text, keyboard = check_in_screen(t, result, context.visitor.settings.timezone,
                                     context.services.check_ins.max_age_seconds)
    await message.reply_text(text, reply_markup=keyboard)


async def on_live_update(update: Update, context: CrmContext) -> None:
    """A live location moved: the visit goes on (quietly: it moves every few seconds)."""
    message = update.edited_message
    if message.forward_origin is not None:
        return
    await context.services.check_ins.live_update(
        update.effective_user.id, message.chat_id, message.message_id, _shared_location(message))


async def location_in_group(update: Update, context: CrmContext) -> None:
    """Check-ins are personal: point to the private chat."""
    await update.effective_message.reply_text(
        context.t("Please check in in a private chat with me: share your location there."),
        reply_markup=private_chat_link(context.bot.username, context.t))


async def check_out(update: Update, context: CrmContext) -> None:
    """/checkout: close the open visit and say how long it lasted."""
    try:
        done = await context.services.check_ins.check_out(update.effective_user.id)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(context.t, error, CHECK_IN_REFUSALS))
        return
    await update.effective_message.reply_text(check_out_text(context.t, done))


def check_out_text(t: Translator, done: CheckOut) -> str:
    if done.customer is not None:
        text = t("👋 Checked out of {customer}. The visit lasted {duration}.",
                 customer=done.customer.name, duration=duration(t, done.duration))
    else:
        text = t("👋 Checked out. The visit lasted {duration}.",
                 duration=duration(t, done.duration))
    if TrustFlag.NO_PHOTO in done.check_in.flags:
        text += "\n" + t("⚠️ No photo was sent for this visit, so it does not count as "
                         "verified. You can still send one today.")
    return text


async def on_photo(update: Update, context: CrmContext) -> None:
    """A photo or an image file in the private chat: a visit photo."""
    message, t = update.effective_message, context.t
    try:
        item, as_document = sent_image(message)
    except DomainError as error:
        await message.reply_text(refusal(t, error, CHECK_IN_REFUSALS))
        return
    file = await context.bot.get_file(item.file_id)
    data = bytes(await file.download_as_bytearray())
    try:
        result = await context.services.check_ins.attach_photo(
            update.effective_user.id, data, file_id=item.file_id, as_document=as_document,
            sent_at=message.date, captioned=bool(message.caption))
    except DomainError as error:
        await message.reply_text(refusal(t, error, CHECK_IN_REFUSALS))
        return
    text, keyboard = photo_screen(t, result, context.visitor.settings.timezone)
    await message.reply_text(text, reply_markup=keyboard)


def photo_screen(t: Translator, result: PhotoResult,
                 timezone: str) -> tuple[str, InlineKeyboardMarkup | None]:
    if result.check_in is None:
        rows = []
        if result.last_today is not None:
            rows.append([InlineKeyboardButton(t("Attach to my last check-in"),
                                              callback_data=AttachPhoto(result.photo.id).encode())])
        rows.append([InlineKeyboardButton(t("Cancel"),
                                          callback_data=DiscardPhoto(result.photo.id).encode())])
        text = (t("You have no open check-in. What is this photo for?")
                if result.last_today is not None else
                t("You have no check-in today. Check in with the 📍 Check in button first, "
                  "then send the photo."))
        return text, InlineKeyboardMarkup(rows)
    lines = [t("📷 Photo {count} added to your visit of {time}.", count=result.photo_count,
               time=local_datetime(result.check_in.at, timezone))]
    for flag in sorted(result.photo.flags):
        lines.append(t(FLAG_LINES[TrustFlag(flag)]))
    if result.completes:
        lines.append(t("✅ The required photo is in: this visit counts as verified now.")
                     if result.check_in.verified else t("The required photo is in."))
    return "\n".join(lines), None


async def _show(update: Update, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(text, reply_markup=keyboard)


async def _check_in_shown(update: Update, context: CrmContext, result: CheckInResult) -> None:
    service = context.services.check_ins
    await _show(update, *check_in_screen(context.t, result, context.visitor.settings.timezone,
                                         service.max_age_seconds))


@private_press("start", say_refusal)
async def choose_customer(update: Update, context: CrmContext) -> None:
    """The customer this visit is for, of those offered."""
    press = ChooseCustomer.of(update)
    await _check_in_shown(update, context, await context.services.check_ins.choose_customer(
        update.effective_user.id, press.check_in_id, press.customer_id))


@private_press("start", say_refusal)
async def choose_deal(update: Update, context: CrmContext) -> None:
    """One of the rep's deals nearby (and its customer)."""
    press = ChooseDeal.of(update)
    await _check_in_shown(update, context, await context.services.check_ins.choose_deal(
        update.effective_user.id, press.check_in_id, press.opportunity_id))


@private_press("start", say_refusal)
async def leave_unassigned(update: Update, context: CrmContext) -> None:
    """No customer for this visit."""
    await _check_in_shown(update, context, await context.services.check_ins.leave_unassigned(
        update.effective_user.id, LeaveUnassigned.of(update).check_in_id))


@private_press("start", say_refusal)
async def check_out_pressed(update: Update, context: CrmContext) -> None:
    """Check out of the open visit."""
    done = await context.services.check_ins.check_out(update.effective_user.id)
    await _show(update, check_out_text(context.t, done), None)


@private_press("start", say_refusal)
async def attach_photo(update: Update, context: CrmContext) -> None:
    """A waiting photo goes to today's last check-in."""
    result = await context.services.check_ins.attach_waiting_photo(
        update.effective_user.id, AttachPhoto.of(update).photo_id)
    await _show(update, *photo_screen(context.t, result, context.visitor.settings.timezone))


@private_press("start", say_refusal)
async def discard_photo(update: Update, context: CrmContext) -> None:
    """A waiting photo is put aside."""
    await context.services.check_ins.discard_waiting_photo(update.effective_user.id,
                                                           DiscardPhoto.of(update).photo_id)
    await _show(update, context.t("All right, I have put that photo aside."), None)


def handlers() -> list:
    private = filters.ChatType.PRIVATE
    return [
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.LOCATION, on_location),
        MessageHandler(private & filters.UpdateType.EDITED_MESSAGE & filters.LOCATION,
                       on_live_update),
        MessageHandler(filters.ChatType.GROUPS & filters.UpdateType.MESSAGE & filters.LOCATION,
                       location_in_group),
        MessageHandler(private & filters.UpdateType.MESSAGE
                       & (filters.PHOTO | filters.Document.ALL), on_photo),
        CommandHandler("checkout", check_out),
        ButtonHandler(ChooseCustomer, choose_customer),
        ButtonHandler(ChooseDeal, choose_deal),
        ButtonHandler(LeaveUnassigned, leave_unassigned),
        ButtonHandler(CheckOutVisit, check_out_pressed),
        ButtonHandler(AttachPhoto, attach_photo),
        ButtonHandler(DiscardPhoto, discard_photo),
    ]

