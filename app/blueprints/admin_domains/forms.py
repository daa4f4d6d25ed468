from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class DomainForm(FlaskForm):
    name = StringField("Domain or IP network", validators=[
        DataRequired(message="Enter a domain such as example.com, or a network such as "
                             "10.0.0.0/24."),
        Length(max=300, message="That is longer than any domain name can be.")])
